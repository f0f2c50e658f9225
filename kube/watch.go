package kube

import (
	"context"
	"fmt"
	"sort"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// WorkloadStatus is the workload object's state as the watcher last saw it.
type WorkloadStatus struct {
	// Desired is spec.replicas.
	Desired int
	// Settled is true when the controller has observed the latest spec
	// (status.observedGeneration ≥ metadata.generation).
	Settled bool
	// Template is the pod template.
	Template *corev1.PodTemplateSpec
}

// Watcher keeps informer caches of the workload object and its pods (selected by the
// workload's label selector) and calls OnChange after every pod or workload event. The
// collector reads the cluster view from it and the backend integrates pod levels from it,
// without polling the API server.
type Watcher struct {
	target   *Target
	selector labels.Selector
	pods     cache.SharedIndexInformer
	workload cache.SharedIndexInformer
	cancel   context.CancelFunc
	done     sync.WaitGroup

	mu       sync.Mutex
	onChange []func()
}

// StartWatcher reads the workload's selector, starts the informers and waits until their
// caches have synced (or ctx ends). Stop it with Stop.
func StartWatcher(ctx context.Context, t *Target) (*Watcher, error) {
	_, sel, err := t.Template(ctx)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{target: t, selector: sel, cancel: cancel}
	pf := informers.NewSharedInformerFactoryWithOptions(t.Client, 0, informers.WithNamespace(t.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel.String() }))
	wf := informers.NewSharedInformerFactoryWithOptions(t.Client, 0, informers.WithNamespace(t.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", t.Workload.Name).String()
		}))
	w.pods = pf.Core().V1().Pods().Informer()
	if t.Workload.Kind == KindStatefulSet {
		w.workload = wf.Apps().V1().StatefulSets().Informer()
	} else {
		w.workload = wf.Apps().V1().Deployments().Informer()
	}
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { w.changed() },
		UpdateFunc: func(any, any) { w.changed() },
		DeleteFunc: func(any) { w.changed() },
	}
	if _, err := w.pods.AddEventHandler(h); err != nil {
		cancel()
		return nil, fmt.Errorf("watch pods: %w", err)
	}
	if _, err := w.workload.AddEventHandler(h); err != nil {
		cancel()
		return nil, fmt.Errorf("watch %s: %w", t.Workload, err)
	}
	w.done.Add(2)
	go func() { defer w.done.Done(); w.pods.Run(wctx.Done()) }()
	go func() { defer w.done.Done(); w.workload.Run(wctx.Done()) }()
	if !cache.WaitForCacheSync(ctx.Done(), w.pods.HasSynced, w.workload.HasSynced) {
		w.Stop()
		return nil, fmt.Errorf("watch %s in %s: caches did not sync: %w", t.Workload, t.Namespace, context.Cause(ctx))
	}
	return w, nil
}

// OnChange registers f to run (on an informer goroutine) after every event.
func (w *Watcher) OnChange(f func()) {
	w.mu.Lock()
	w.onChange = append(w.onChange, f)
	w.mu.Unlock()
}

func (w *Watcher) changed() {
	w.mu.Lock()
	fs := append([]func(){}, w.onChange...)
	w.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// Selector is the workload's pod selector.
func (w *Watcher) Selector() labels.Selector { return w.selector }

// Pods returns the cached pods of the workload, sorted by name. They are shared with the
// cache: do not modify them.
func (w *Watcher) Pods() []*corev1.Pod {
	objs := w.pods.GetStore().List()
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok && w.selector.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Workload returns the cached workload's status; ok is false when it does not exist.
func (w *Watcher) Workload() (WorkloadStatus, bool) {
	o, exists, err := w.workload.GetStore().GetByKey(w.target.Namespace + "/" + w.target.Workload.Name)
	if err != nil || !exists {
		return WorkloadStatus{}, false
	}
	switch x := o.(type) {
	case *appsv1.Deployment:
		d := 1
		if x.Spec.Replicas != nil {
			d = int(*x.Spec.Replicas)
		}
		return WorkloadStatus{Desired: d, Settled: x.Status.ObservedGeneration >= x.Generation, Template: &x.Spec.Template}, true
	case *appsv1.StatefulSet:
		d := 1
		if x.Spec.Replicas != nil {
			d = int(*x.Spec.Replicas)
		}
		return WorkloadStatus{Desired: d, Settled: x.Status.ObservedGeneration >= x.Generation, Template: &x.Spec.Template}, true
	}
	return WorkloadStatus{}, false
}

// Stop stops the informers and waits for them.
func (w *Watcher) Stop() {
	w.cancel()
	w.done.Wait()
}
