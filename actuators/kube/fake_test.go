package kube

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fakeCluster is a fake clientset that serves the scale subresource of Deployments and
// StatefulSets (the stock fake does not: GetScale panics, UpdateScale errors), with
// resourceVersions that change on every write so optimistic concurrency can be tested, and
// that honours server-side dry run for scale updates.
type fakeCluster struct {
	*fake.Clientset
	mu sync.Mutex
	rv int
	// conflicts makes the next n scale updates fail with a conflict.
	conflicts int
	// scaleUpdates records the options of every scale update.
	scaleUpdates []metav1.UpdateOptions
}

var (
	deploymentsGVR  = appsv1.SchemeGroupVersion.WithResource("deployments")
	statefulSetsGVR = appsv1.SchemeGroupVersion.WithResource("statefulsets")
)

func newFakeCluster(t *testing.T, objs ...runtime.Object) *fakeCluster {
	t.Helper()
	f := &fakeCluster{Clientset: fake.NewClientset(objs...)}
	for _, res := range []string{"deployments", "statefulsets"} {
		f.PrependReactor("get", res, f.getScale)
		f.PrependReactor("update", res, f.updateScale)
	}
	return f
}

func (f *fakeCluster) nextRV() string {
	f.rv++
	return strconv.Itoa(1000 + f.rv)
}

func gvrOf(res string) schema.GroupVersionResource {
	if res == "statefulsets" {
		return statefulSetsGVR
	}
	return deploymentsGVR
}

// workload reads the object and its replicas and resourceVersion.
func (f *fakeCluster) workload(res, ns, name string) (runtime.Object, *int32, *metav1.ObjectMeta, error) {
	obj, err := f.Tracker().Get(gvrOf(res), ns, name)
	if err != nil {
		return nil, nil, nil, err
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o, o.Spec.Replicas, &o.ObjectMeta, nil
	case *appsv1.StatefulSet:
		return o, o.Spec.Replicas, &o.ObjectMeta, nil
	}
	return nil, nil, nil, fmt.Errorf("unexpected %T", obj)
}

func (f *fakeCluster) getScale(a k8stesting.Action) (bool, runtime.Object, error) {
	if a.GetSubresource() != "scale" {
		return false, nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g := a.(k8stesting.GetAction)
	_, replicas, meta, err := f.workload(a.GetResource().Resource, g.GetNamespace(), g.GetName())
	if err != nil {
		return true, nil, err
	}
	if meta.ResourceVersion == "" {
		meta.ResourceVersion = "1"
	}
	return true, &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: g.GetName(), Namespace: g.GetNamespace(), ResourceVersion: meta.ResourceVersion},
		Spec:       autoscalingv1.ScaleSpec{Replicas: *replicas},
	}, nil
}

func (f *fakeCluster) updateScale(a k8stesting.Action) (bool, runtime.Object, error) {
	if a.GetSubresource() != "scale" {
		return false, nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u := a.(k8stesting.UpdateActionImpl)
	f.scaleUpdates = append(f.scaleUpdates, u.UpdateOptions)
	sc := u.GetObject().(*autoscalingv1.Scale)
	res := a.GetResource().Resource
	obj, replicas, meta, err := f.workload(res, a.GetNamespace(), sc.Name)
	if err != nil {
		return true, nil, err
	}
	gr := schema.GroupResource{Group: "apps", Resource: res}
	if f.conflicts > 0 {
		f.conflicts--
		// Someone else wrote the object meanwhile.
		meta.ResourceVersion = f.nextRV()
		if err := f.Tracker().Update(gvrOf(res), obj, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, nil, apierrors.NewConflict(gr, sc.Name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	cur := meta.ResourceVersion
	if cur == "" {
		cur = "1"
	}
	if sc.ResourceVersion != "" && sc.ResourceVersion != cur {
		return true, nil, apierrors.NewConflict(gr, sc.Name, fmt.Errorf("stale resourceVersion %s, current %s", sc.ResourceVersion, cur))
	}
	out := sc.DeepCopy()
	if len(u.UpdateOptions.DryRun) > 0 {
		return true, out, nil
	}
	*replicas = sc.Spec.Replicas
	meta.ResourceVersion = f.nextRV()
	if err := f.Tracker().Update(gvrOf(res), obj, a.GetNamespace()); err != nil {
		return true, nil, err
	}
	out.ResourceVersion = meta.ResourceVersion
	return true, out, nil
}

func (f *fakeCluster) replicas(t *testing.T, res, ns, name string) int32 {
	t.Helper()
	_, r, _, err := f.workload(res, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return *r
}

// actionsOf returns the recorded actions with the verb and resource (and subresource when
// not empty).
func (f *fakeCluster) actionsOf(verb, resource, sub string) []k8stesting.Action {
	var out []k8stesting.Action
	for _, a := range f.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource && a.GetSubresource() == sub {
			out = append(out, a)
		}
	}
	return out
}

func deployment(ns, name string, replicas int32, cpu string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: "1", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "triton",
					Image: "nvcr.io/nvidia/tritonserver:25.01-py3",
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), "nvidia.com/gpu": resource.MustParse("1")},
						Limits:   corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")},
					},
				}}},
			},
		},
	}
}
