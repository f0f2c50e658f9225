package kube

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"

	"github.com/scalelab/scalelab/framework"
	kb "github.com/scalelab/scalelab/kube"
)

const ns = "inference"

func options(mut ...func(*Options)) Options {
	o := Options{
		Namespace: ns, Workload: kb.WorkloadRef{Kind: kb.KindDeployment, Name: "mobilenetv4"},
		CPUResize: kb.CPUResizeNone, FieldManager: "scalelab", MinReplicas: 1, MaxReplicas: 4,
		Triton: kb.TritonConfig{Port: 8000, Timeout: 5 * time.Second},
	}
	for _, m := range mut {
		m(&o)
	}
	return o
}

func newActuator(t *testing.T, f *fakeCluster, mut ...func(*Options)) *Actuator {
	t.Helper()
	a, err := New(f, options(mut...))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func hpa(name string, kind, target, apiVersion string, min, max int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: "7"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: apiVersion, Kind: kind, Name: target},
			MinReplicas:    &min, MaxReplicas: max,
			Metrics: []autoscalingv2.MetricSpec{kb.CPUMetric(80), {
				Type: autoscalingv2.PodsMetricSourceType,
				Pods: &autoscalingv2.PodsMetricSource{Metric: autoscalingv2.MetricIdentifier{Name: "queue_ms"},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(5, resource.DecimalSI)}},
			}},
		},
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		mut  func(*Options)
		want string
	}{
		{"no namespace", func(o *Options) { o.Namespace = "" }, "namespace and workload name are required"},
		{"kind", func(o *Options) { o.Workload.Kind = "ReplicaSet" }, "workload.kind"},
		{"bounds", func(o *Options) { o.MinReplicas, o.MaxReplicas = 3, 2 }, "1 ≤ min_replicas ≤ max_replicas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(newFakeCluster(t), options(tt.mut))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSetReplicas(t *testing.T) {
	tests := []struct {
		name         string
		kind         string
		from, to     int32
		wantChanged  bool
		wantUpdates  int
		wantReplicas int32
	}{
		{"deployment up", kb.KindDeployment, 2, 4, true, 1, 4},
		{"deployment down", kb.KindDeployment, 3, 1, true, 1, 1},
		{"unchanged: no write", kb.KindDeployment, 2, 2, false, 0, 2},
		{"statefulset", kb.KindStatefulSet, 1, 3, true, 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var obj runtime.Object = deployment(ns, "mobilenetv4", tt.from, "500m")
			res := "deployments"
			if tt.kind == kb.KindStatefulSet {
				d := obj.(*appsv1.Deployment)
				obj = &appsv1.StatefulSet{ObjectMeta: d.ObjectMeta, Spec: appsv1.StatefulSetSpec{Replicas: d.Spec.Replicas, Selector: d.Spec.Selector, Template: d.Spec.Template}}
				res = "statefulsets"
			}
			f := newFakeCluster(t, obj)
			a := newActuator(t, f, func(o *Options) { o.Workload.Kind = tt.kind })
			ap, err := a.Apply(context.Background(), framework.Command{Replicas: framework.IntPtr(int(tt.to))})
			if err != nil {
				t.Fatal(err)
			}
			if ap.Replicas != int(tt.wantReplicas) || ap.Changed != tt.wantChanged || ap.DryRun {
				t.Errorf("Applied = %+v, want replicas %d changed %v", ap, tt.wantReplicas, tt.wantChanged)
			}
			if got := f.replicas(t, res, ns, "mobilenetv4"); got != tt.wantReplicas {
				t.Errorf("%s replicas = %d, want %d", res, got, tt.wantReplicas)
			}
			if got := len(f.actionsOf("update", res, "scale")); got != tt.wantUpdates {
				t.Errorf("scale updates = %d, want %d", got, tt.wantUpdates)
			}
		})
	}
}

// A conflict (another writer changed the Deployment between the actuator's read and its
// write) is retried with a fresh read; five conflicts in a row exhaust client-go's default
// retry and surface as a conflict error.
func TestSetReplicasRetriesConflicts(t *testing.T) {
	for _, tt := range []struct {
		conflicts int
		wantErr   bool
	}{{0, false}, {1, false}, {4, false}, {5, true}} {
		f := newFakeCluster(t, deployment(ns, "mobilenetv4", 1, "500m"))
		f.conflicts = tt.conflicts
		a := newActuator(t, f)
		ap, err := a.Apply(context.Background(), framework.Command{Replicas: framework.IntPtr(3)})
		attempts := len(f.actionsOf("update", "deployments", "scale"))
		if tt.wantErr {
			if !apierrors.IsConflict(errors.Unwrap(errors.Unwrap(errors.Unwrap(err)))) && !strings.Contains(fmtErr(err), "modified") {
				t.Errorf("%d conflicts: err = %v, want a conflict", tt.conflicts, err)
			}
			if attempts != 5 || f.replicas(t, "deployments", ns, "mobilenetv4") != 1 {
				t.Errorf("%d conflicts: %d attempts, replicas %d; want 5 attempts and replicas unchanged", tt.conflicts, attempts, f.replicas(t, "deployments", ns, "mobilenetv4"))
			}
			continue
		}
		if err != nil {
			t.Fatalf("%d conflicts: %v", tt.conflicts, err)
		}
		if ap.Replicas != 3 || attempts != tt.conflicts+1 || a.Conflicts() != int64(tt.conflicts) {
			t.Errorf("%d conflicts: Applied %+v after %d attempts, Conflicts() = %d; want replicas 3 after %d attempts", tt.conflicts, ap, attempts, a.Conflicts(), tt.conflicts+1)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestServerSideDryRun(t *testing.T) {
	f := newFakeCluster(t, deployment(ns, "mobilenetv4", 2, "500m"))
	a := newActuator(t, f, func(o *Options) { o.DryRun = true })
	ap, err := a.Apply(context.Background(), framework.Command{Replicas: framework.IntPtr(4)})
	if err != nil {
		t.Fatal(err)
	}
	if !ap.DryRun || ap.Replicas != 2 || !ap.Changed || !strings.Contains(ap.Note, "dry run") {
		t.Errorf("Applied = %+v, want a dry run that leaves 2 replicas in force", ap)
	}
	if len(f.scaleUpdates) != 1 || len(f.scaleUpdates[0].DryRun) != 1 || f.scaleUpdates[0].DryRun[0] != metav1.DryRunAll {
		t.Errorf("scale update options = %+v, want dryRun [All]", f.scaleUpdates)
	}
	if f.scaleUpdates[0].FieldManager != "scalelab" {
		t.Errorf("field manager = %q, want scalelab", f.scaleUpdates[0].FieldManager)
	}
	if got := f.replicas(t, "deployments", ns, "mobilenetv4"); got != 2 {
		t.Errorf("replicas = %d after a dry run, want 2", got)
	}
}

// The actuator will not fight an HPA over the scale subresource: an HPA whose target is
// the workload blocks replica commands (with a message naming the HPA and the way out); an
// HPA of another workload does not.
func TestRefusesToFightHPA(t *testing.T) {
	tests := []struct {
		name    string
		hpa     *autoscalingv2.HorizontalPodAutoscaler
		refused bool
	}{
		{"targets the deployment", hpa("web", "Deployment", "mobilenetv4", "apps/v1", 1, 4), true},
		{"targets it via extensions/v1beta1", hpa("old", "Deployment", "mobilenetv4", "extensions/v1beta1", 1, 4), true},
		{"another deployment", hpa("other", "Deployment", "resnet", "apps/v1", 1, 4), false},
		{"a statefulset of the same name", hpa("sts", "StatefulSet", "mobilenetv4", "apps/v1", 1, 4), false},
		{"a custom resource of the same name", hpa("cr", "Deployment", "mobilenetv4", "example.com/v1", 1, 4), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCluster(t, deployment(ns, "mobilenetv4", 2, "500m"), tt.hpa)
			a := newActuator(t, f)
			_, err := a.Apply(context.Background(), framework.Command{Replicas: framework.IntPtr(3)})
			if !tt.refused {
				if err != nil || f.replicas(t, "deployments", ns, "mobilenetv4") != 3 {
					t.Fatalf("Apply = %v, replicas %d; want 3 replicas", err, f.replicas(t, "deployments", ns, "mobilenetv4"))
				}
				return
			}
			if !errors.Is(err, ErrHPAConflict) {
				t.Fatalf("Apply = %v, want ErrHPAConflict", err)
			}
			for _, want := range []string{tt.hpa.Name, "manage_hpa"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if got := len(f.actionsOf("update", "deployments", "scale")); got != 0 || f.replicas(t, "deployments", ns, "mobilenetv4") != 2 {
				t.Errorf("%d scale updates, replicas %d; want none and 2", got, f.replicas(t, "deployments", ns, "mobilenetv4"))
			}
		})
	}
}

// With manage_hpa the actuator pins the HPA (min = max = n) before scaling, keeps its other
// fields, and records the HPA's original spec once.
func TestManageHPAPins(t *testing.T) {
	f := newFakeCluster(t, deployment(ns, "mobilenetv4", 2, "500m"), hpa("web", "Deployment", "mobilenetv4", "apps/v1", 1, 4))
	a := newActuator(t, f, func(o *Options) { o.ManageHPA = true })
	ap, err := a.Apply(context.Background(), framework.Command{Replicas: framework.IntPtr(3)})
	if err != nil {
		t.Fatal(err)
	}
	if ap.Replicas != 3 || !strings.Contains(ap.Note, "pinned to 3") {
		t.Errorf("Applied = %+v, want 3 replicas and a note on the pin", ap)
	}
	h, err := f.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *h.Spec.MinReplicas != 3 || h.Spec.MaxReplicas != 3 || len(h.Spec.Metrics) != 2 {
		t.Errorf("HPA spec = min %d max %d, %d metrics; want 3, 3 and both metrics kept", *h.Spec.MinReplicas, h.Spec.MaxReplicas, len(h.Spec.Metrics))
	}
	var orig autoscalingv2.HorizontalPodAutoscalerSpec
	if err := json.Unmarshal([]byte(h.Annotations[kb.OriginalSpecAnnotation]), &orig); err != nil || *orig.MinReplicas != 1 || orig.MaxReplicas != 4 {
		t.Errorf("original-spec annotation = %q (%v), want the 1–4 spec", h.Annotations[kb.OriginalSpecAnnotation], err)
	}
	// The patch is a merge patch carrying the resourceVersion it was computed from.
	patches := f.actionsOf("patch", "horizontalpodautoscalers", "")
	if len(patches) != 1 {
		t.Fatalf("%d HPA patches, want 1", len(patches))
	}
	p := patches[0].(k8stesting.PatchActionImpl)
	if p.PatchType != types.MergePatchType || !strings.Contains(string(p.Patch), `"resourceVersion":"7"`) {
		t.Errorf("patch %s %s, want a merge patch with resourceVersion 7", p.PatchType, p.Patch)
	}
	// A second pin keeps the first original spec.
	if _, err := a.Apply(context.Background(), framework.Command{Replicas: framework.IntPtr(2)}); err != nil {
		t.Fatal(err)
	}
	h, _ = f.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err := json.Unmarshal([]byte(h.Annotations[kb.OriginalSpecAnnotation]), &orig); err != nil || orig.MaxReplicas != 4 || h.Spec.MaxReplicas != 2 {
		t.Errorf("after a second pin: spec max %d, original max %d; want 2 and 4", h.Spec.MaxReplicas, orig.MaxReplicas)
	}
}

func TestSetHPATarget(t *testing.T) {
	ctx := context.Background()
	t.Run("needs manage_hpa", func(t *testing.T) {
		f := newFakeCluster(t, deployment(ns, "mobilenetv4", 2, "500m"))
		_, err := newActuator(t, f).Apply(ctx, framework.Command{HPATarget: framework.Float64Ptr(60)})
		if err == nil || !strings.Contains(err.Error(), "manage_hpa") {
			t.Fatalf("Apply = %v, want an error asking for manage_hpa", err)
		}
	})
	t.Run("range", func(t *testing.T) {
		f := newFakeCluster(t, deployment(ns, "mobilenetv4", 2, "500m"))
		_, err := newActuator(t, f, func(o *Options) { o.ManageHPA = true }).Apply(ctx, framework.Command{HPATarget: framework.Float64Ptr(0)})
		if err == nil || !strings.Contains(err.Error(), "[1, 1000]") {
			t.Fatalf("Apply = %v, want a range error", err)
		}
	})
	t.Run("creates then patches", func(t *testing.T) {
		f := newFakeCluster(t, deployment(ns, "mobilenetv4", 2, "500m"))
		a := newActuator(t, f, func(o *Options) { o.ManageHPA = true; o.MinReplicas, o.MaxReplicas = 1, 4 })
		ap, err := a.Apply(ctx, framework.Command{HPATarget: framework.Float64Ptr(70.4)})
		if err != nil {
			t.Fatal(err)
		}
		if !ap.Changed || ap.Replicas != 2 || !strings.Contains(ap.Note, "created HPA mobilenetv4") {
			t.Errorf("Applied = %+v", ap)
		}
		h, err := f.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "mobilenetv4", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if kb.CPUTarget(h) != 70 || *h.Spec.MinReplicas != 1 || h.Spec.MaxReplicas != 4 || h.Spec.ScaleTargetRef.Name != "mobilenetv4" ||
			h.Labels[kb.ManagedByLabel] != "scalelab" || h.Annotations[kb.WorkloadAnnotation] != "Deployment/mobilenetv4" {
			t.Errorf("created HPA = %+v", h)
		}
		ap, err = a.Apply(ctx, framework.Command{HPATarget: framework.Float64Ptr(50)})
		if err != nil || !ap.Changed {
			t.Fatalf("retarget: %+v, %v", ap, err)
		}
		h, _ = f.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "mobilenetv4", metav1.GetOptions{})
		if kb.CPUTarget(h) != 50 {
			t.Errorf("target = %v, want 50", kb.CPUTarget(h))
		}
		// The same target again changes nothing and writes nothing.
		before := len(f.actionsOf("patch", "horizontalpodautoscalers", ""))
		if ap, err := a.Apply(ctx, framework.Command{HPATarget: framework.Float64Ptr(50)}); err != nil || ap.Changed {
			t.Errorf("same target: %+v, %v; want unchanged", ap, err)
		}
		if after := len(f.actionsOf("patch", "horizontalpodautoscalers", "")); after != before {
			t.Errorf("same target patched the HPA (%d → %d patches)", before, after)
		}
	})
	t.Run("patches an existing HPA keeping other metrics and undoing a pin", func(t *testing.T) {
		f := newFakeCluster(t, deployment(ns, "mobilenetv4", 2, "500m"), hpa("web", "Deployment", "mobilenetv4", "apps/v1", 2, 2))
		a := newActuator(t, f, func(o *Options) { o.ManageHPA = true; o.MinReplicas, o.MaxReplicas = 1, 4 })
		if _, err := a.Apply(ctx, framework.Command{HPATarget: framework.Float64Ptr(40)}); err != nil {
			t.Fatal(err)
		}
		h, _ := f.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "web", metav1.GetOptions{})
		if kb.CPUTarget(h) != 40 || len(h.Spec.Metrics) != 2 || h.Spec.Metrics[1].Pods == nil || *h.Spec.MinReplicas != 1 || h.Spec.MaxReplicas != 4 {
			t.Errorf("HPA spec = %+v, want CPU 40, the Pods metric kept, bounds 1–4", h.Spec)
		}
	})
}

type hpaPolicy struct {
	spec autoscalingv2.HorizontalPodAutoscalerSpec
}

func (p hpaPolicy) Act(context.Context, framework.Observation) (framework.Action, error) {
	return framework.Action{Values: []float64{1}}, nil
}
func (p hpaPolicy) Spec() autoscalingv2.HorizontalPodAutoscalerSpec { return p.spec }

type plainPolicy struct{}

func (plainPolicy) Act(context.Context, framework.Observation) (framework.Action, error) {
	return framework.Action{}, nil
}

// The HPA baseline on a real cluster is the cluster's own HPA controller: the actuator
// applies the policy's spec once per episode and then leaves replicas alone.
func TestBindPolicyStandsBack(t *testing.T) {
	ctx := context.Background()
	lo := int32(1)
	spec := autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &lo, MaxReplicas: 4, Metrics: []autoscalingv2.MetricSpec{kb.CPUMetric(60)}}
	f := newFakeCluster(t, deployment(ns, "mobilenetv4", 2, "500m"))
	a := newActuator(t, f)
	episode := uint64(1)
	a.BindEpisode(func() uint64 { return episode })
	if err := a.BindPolicy(plainPolicy{}); err != nil || a.StandsBack() {
		t.Fatalf("a plain policy: err %v, stands back %v", err, a.StandsBack())
	}
	if err := a.BindPolicy(hpaPolicy{spec}); err != nil || !a.StandsBack() {
		t.Fatalf("the HPA baseline: err %v, stands back %v", err, a.StandsBack())
	}
	ap, err := a.Apply(ctx, framework.Command{Replicas: framework.IntPtr(4)})
	if err != nil {
		t.Fatal(err)
	}
	if ap.Replicas != 2 || !strings.Contains(ap.Note, "applied the HPA baseline") || !strings.Contains(ap.Note, "policy recommended 4") {
		t.Errorf("Applied = %+v, want the spec applied and replicas left at 2", ap)
	}
	if n := len(f.actionsOf("update", "deployments", "scale")); n != 0 {
		t.Errorf("%d scale updates while standing back, want 0", n)
	}
	h, err := f.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "mobilenetv4", metav1.GetOptions{})
	if err != nil || kb.CPUTarget(h) != 60 || h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Labels[kb.ManagedByLabel] != "scalelab" {
		t.Fatalf("HPA = %+v, %v; want scalelab's HPA at CPU 60 on the Deployment", h, err)
	}
	// Later decisions of the same episode do not touch the HPA.
	creates := len(f.actionsOf("create", "horizontalpodautoscalers", ""))
	if _, err := a.Apply(ctx, framework.Command{Replicas: framework.IntPtr(1)}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.actionsOf("create", "horizontalpodautoscalers", "")) + len(f.actionsOf("update", "horizontalpodautoscalers", "")); n != creates {
		t.Errorf("HPA written again within the episode")
	}
	// A new episode (Reset deleted scalelab's HPA) applies the spec again.
	if err := f.AutoscalingV2().HorizontalPodAutoscalers(ns).Delete(ctx, "mobilenetv4", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	episode = 2
	if _, err := a.Apply(ctx, framework.Command{Replicas: framework.IntPtr(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "mobilenetv4", metav1.GetOptions{}); err != nil {
		t.Errorf("HPA not re-created in episode 2: %v", err)
	}
}

func TestApplyHPASpecRespectsForeignHPA(t *testing.T) {
	ctx := context.Background()
	lo := int32(1)
	spec := autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &lo, MaxReplicas: 3, Metrics: []autoscalingv2.MetricSpec{kb.CPUMetric(50)}}
	f := newFakeCluster(t, deployment(ns, "mobilenetv4", 2, "500m"), hpa("web", "Deployment", "mobilenetv4", "apps/v1", 1, 4))
	if _, _, err := newActuator(t, f).ApplyHPASpec(ctx, spec); !errors.Is(err, ErrHPAConflict) {
		t.Fatalf("ApplyHPASpec over a foreign HPA without manage_hpa = %v, want ErrHPAConflict", err)
	}
	ch, _, err := newActuator(t, f, func(o *Options) { o.ManageHPA = true }).ApplyHPASpec(ctx, spec)
	if err != nil || !ch {
		t.Fatalf("with manage_hpa: changed %v, %v", ch, err)
	}
	h, _ := f.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "web", metav1.GetOptions{})
	if h.Spec.MaxReplicas != 3 || kb.CPUTarget(h) != 50 || h.Annotations[kb.OriginalSpecAnnotation] == "" {
		t.Errorf("HPA = %+v, want the baseline's spec and the original recorded", h)
	}
	// A scaleTargetRef naming another workload is an error.
	spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "resnet", APIVersion: "apps/v1"}
	if _, _, err := newActuator(t, f, func(o *Options) { o.ManageHPA = true }).ApplyHPASpec(ctx, spec); err == nil || !strings.Contains(err.Error(), "resnet") {
		t.Errorf("foreign scaleTargetRef: %v", err)
	}
}

func pod(name, cpu, limit string) *corev1.Pod {
	c := corev1.Container{Name: "triton", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}
	if limit != "" {
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(limit)}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "mobilenetv4"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{c}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0." + name[len(name)-1:],
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func withResize(f *fakeCluster, supported bool) {
	res := []metav1.APIResource{{Name: "pods"}, {Name: "pods/status"}}
	if supported {
		res = append(res, metav1.APIResource{Name: "pods/resize"})
	}
	f.Resources = []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: res}}
}

func TestSetCPURequest(t *testing.T) {
	ctx := context.Background()
	t.Run("none is simulation-only", func(t *testing.T) {
		f := newFakeCluster(t, deployment(ns, "mobilenetv4", 1, "500m"))
		_, err := newActuator(t, f).Apply(ctx, framework.Command{CPURequestMilli: framework.Int64Ptr(750)})
		if !errors.Is(err, ErrSimulationOnly) || !strings.Contains(err.Error(), "cpu_resize") {
			t.Fatalf("Apply = %v, want ErrSimulationOnly naming cpu_resize", err)
		}
	})
	t.Run("in_place without pods/resize is simulation-only", func(t *testing.T) {
		f := newFakeCluster(t, deployment(ns, "mobilenetv4", 1, "500m"))
		withResize(f, false)
		_, err := newActuator(t, f, func(o *Options) { o.CPUResize = kb.CPUResizeInPlace }).Apply(ctx, framework.Command{CPURequestMilli: framework.Int64Ptr(750)})
		if !errors.Is(err, ErrSimulationOnly) || !strings.Contains(err.Error(), "1.33") {
			t.Fatalf("Apply = %v, want ErrSimulationOnly naming the Kubernetes version", err)
		}
	})
	t.Run("in_place resizes each running pod", func(t *testing.T) {
		// p1 burstable (request 500m, limit 2), p2 guaranteed (500m = 500m: its limit moves
		// too, or the QoS class would change), p3 already at 750m, p4 terminating.
		p4 := pod("p4", "500m", "")
		p4.DeletionTimestamp = &metav1.Time{Time: time.Now()}
		p4.Finalizers = []string{"x"}
		f := newFakeCluster(t, deployment(ns, "mobilenetv4", 3, "500m"), pod("p1", "500m", "2"), pod("p2", "500m", "500m"), pod("p3", "750m", ""), p4)
		withResize(f, true)
		ap, err := newActuator(t, f, func(o *Options) { o.CPUResize = kb.CPUResizeInPlace }).Apply(ctx, framework.Command{CPURequestMilli: framework.Int64Ptr(750)})
		if err != nil {
			t.Fatal(err)
		}
		if !ap.Changed || !strings.Contains(ap.Note, "750m on 2 pods") {
			t.Errorf("Applied = %+v", ap)
		}
		patches := f.actionsOf("patch", "pods", "resize")
		if len(patches) != 2 {
			t.Fatalf("%d resize patches, want 2", len(patches))
		}
		want := map[string]string{
			"p1": `{"spec":{"containers":[{"name":"triton","resources":{"requests":{"cpu":"750m"}}}]}}`,
			"p2": `{"spec":{"containers":[{"name":"triton","resources":{"limits":{"cpu":"750m"},"requests":{"cpu":"750m"}}}]}}`,
		}
		for _, a := range patches {
			p := a.(k8stesting.PatchActionImpl)
			if p.PatchType != types.StrategicMergePatchType || string(p.Patch) != want[p.Name] {
				t.Errorf("patch of %s = %s %s, want %s", p.Name, p.PatchType, p.Patch, want[p.Name])
			}
		}
	})
	t.Run("in_place above a limit is an error naming the pod", func(t *testing.T) {
		f := newFakeCluster(t, deployment(ns, "mobilenetv4", 1, "500m"), pod("p1", "500m", "1"))
		withResize(f, true)
		_, err := newActuator(t, f, func(o *Options) { o.CPUResize = kb.CPUResizeInPlace }).Apply(ctx, framework.Command{CPURequestMilli: framework.Int64Ptr(1500)})
		if err == nil || !strings.Contains(err.Error(), "p1") || !strings.Contains(err.Error(), "limit") {
			t.Fatalf("Apply = %v, want an error naming p1's limit", err)
		}
	})
	t.Run("rolling patches the template", func(t *testing.T) {
		f := newFakeCluster(t, deployment(ns, "mobilenetv4", 1, "500m"))
		a := newActuator(t, f, func(o *Options) { o.CPUResize = kb.CPUResizeRolling; o.DryRun = true })
		ap, err := a.Apply(ctx, framework.Command{CPURequestMilli: framework.Int64Ptr(1000)})
		if err != nil {
			t.Fatal(err)
		}
		if !ap.Changed || !ap.DryRun || !strings.Contains(ap.Note, "rolling update") {
			t.Errorf("Applied = %+v", ap)
		}
		patches := f.actionsOf("patch", "deployments", "")
		if len(patches) != 1 {
			t.Fatalf("%d deployment patches, want 1", len(patches))
		}
		p := patches[0].(k8stesting.PatchActionImpl)
		wantBody := `{"spec":{"template":{"spec":{"containers":[{"name":"triton","resources":{"requests":{"cpu":"1"}}}]}}}}`
		if string(p.Patch) != wantBody || len(p.PatchOptions.DryRun) != 1 {
			t.Errorf("patch = %s (dry run %v), want %s under dry run", p.Patch, p.PatchOptions.DryRun, wantBody)
		}
		// The same request as the template's is no change (a fresh cluster: the fake
		// clientset applies patches even under dry run).
		f = newFakeCluster(t, deployment(ns, "mobilenetv4", 1, "500m"))
		if ap, err := newActuator(t, f, func(o *Options) { o.CPUResize = kb.CPUResizeRolling }).Apply(ctx, framework.Command{CPURequestMilli: framework.Int64Ptr(500)}); err != nil || ap.Changed {
			t.Errorf("same request: %+v, %v", ap, err)
		}
	})
}

// fakeTriton serves GET /v2/models/m/config and POST /v2/repository/models/m/load like
// Triton in explicit model-control mode.
type fakeTriton struct {
	mu     sync.Mutex
	config map[string]any
	loads  []map[string]any
	fail   string
}

func (f *fakeTriton) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v2/models/mobilenetv4/config":
		_ = json.NewEncoder(w).Encode(f.config)
	case r.Method == http.MethodPost && r.URL.Path == "/v2/repository/models/mobilenetv4/load":
		if f.fail != "" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": f.fail})
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Parameters struct {
				Config string `json:"config"`
			} `json:"parameters"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Parameters.Config == "" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "bad load request"})
			return
		}
		var cfg map[string]any
		if err := json.Unmarshal([]byte(req.Parameters.Config), &cfg); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.loads = append(f.loads, cfg)
		f.config = cfg
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "unknown " + r.URL.Path})
	}
}

func TestSetBatching(t *testing.T) {
	ctx := context.Background()
	b := framework.BatchingSettings{MaxBatchSize: 16, PreferredSizes: []int{8, 16}, MaxQueueDelay: 500 * time.Microsecond, InstanceCount: 1}
	t.Run("no model is simulation-only", func(t *testing.T) {
		f := newFakeCluster(t, deployment(ns, "mobilenetv4", 1, "500m"))
		_, err := newActuator(t, f).Apply(ctx, framework.Command{Batching: &b})
		if !errors.Is(err, ErrSimulationOnly) || !strings.Contains(err.Error(), "triton.model") {
			t.Fatalf("Apply = %v, want ErrSimulationOnly naming triton.model", err)
		}
	})
	servers := []*fakeTriton{
		{config: map[string]any{"name": "mobilenetv4", "max_batch_size": 8, "dynamic_batching": map[string]any{}}},
		{config: map[string]any{"name": "mobilenetv4", "max_batch_size": 8}},
	}
	var urls []string
	for _, s := range servers {
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	f := newFakeCluster(t, deployment(ns, "mobilenetv4", 2, "500m"))
	a := newActuator(t, f, func(o *Options) { o.Triton.Model = "mobilenetv4"; o.Triton.Endpoints = urls })
	ap, err := a.Apply(ctx, framework.Command{Batching: &b})
	if err != nil {
		t.Fatal(err)
	}
	if !ap.Changed || !strings.Contains(ap.Note, "2 Triton servers") {
		t.Errorf("Applied = %+v", ap)
	}
	for i, s := range servers {
		if len(s.loads) != 1 {
			t.Fatalf("server %d: %d loads, want 1", i, len(s.loads))
		}
		got := kb.BatchingOf(s.loads[0])
		if got.MaxBatchSize != 16 || got.MaxQueueDelay != 500*time.Microsecond || len(got.PreferredSizes) != 2 || s.loads[0]["name"] != "mobilenetv4" {
			t.Errorf("server %d loaded %v", i, s.loads[0])
		}
	}
	// Servers already at the settings are not reloaded.
	if ap, err := a.Apply(ctx, framework.Command{Batching: &b}); err != nil || ap.Changed || len(servers[0].loads) != 1 {
		t.Errorf("same settings: %+v, %v, %d loads; want no reload", ap, err, len(servers[0].loads))
	}
	// Triton's error is reported with its message.
	servers[1].fail = "load failed for model 'mobilenetv4': explicit model load / unload is not allowed if polling is enabled"
	b.MaxBatchSize = 32
	_, err = a.Apply(ctx, framework.Command{Batching: &b})
	if err == nil || !strings.Contains(err.Error(), "polling is enabled") {
		t.Errorf("Apply = %v, want Triton's error message", err)
	}
	// Invalid settings are refused before any request.
	_, err = a.Apply(ctx, framework.Command{Batching: &framework.BatchingSettings{MaxBatchSize: 4, PreferredSizes: []int{8}}})
	if err == nil || !strings.Contains(err.Error(), "preferred size 8") {
		t.Errorf("Apply = %v, want a preferred-size error", err)
	}
}

// Without explicit endpoints the actuator reloads every Ready pod's server at its IP.
func TestTritonEndpointsFromPods(t *testing.T) {
	notReady := pod("p2", "500m", "")
	notReady.Status.Conditions[0].Status = corev1.ConditionFalse
	f := newFakeCluster(t, deployment(ns, "mobilenetv4", 2, "500m"), pod("p1", "500m", ""), notReady, pod("p3", "500m", ""))
	a := newActuator(t, f, func(o *Options) { o.Triton.Model = "mobilenetv4"; o.Triton.Port = 8000 })
	eps, err := a.tritonEndpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(eps, ",") != "http://10.244.0.1:8000,http://10.244.0.3:8000" {
		t.Errorf("endpoints = %v", eps)
	}
}
