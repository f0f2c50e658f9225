package kube

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
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
//
// It also tracks which unschedulable verdicts may be stale. The scheduler marks a pod
// Unschedulable once and does not write again when a retry fails the same way; when a pod
// of the workload that was bound to a node releases its resources (it is deleted or
// finishes), the pods unschedulable at that moment may fit now, and the scheduler retries
// them (after at most its maximum backoff). Until such a pod changes (it is bound, or its
// verdict is rewritten) or RescheduleWindow has passed since the release, its verdict is
// suspect: StaleVerdicts counts it.
type Watcher struct {
	target   *Target
	selector labels.Selector
	pods     cache.SharedIndexInformer
	workload cache.SharedIndexInformer
	cancel   context.CancelFunc
	done     sync.WaitGroup

	mu       sync.Mutex
	onChange []func()
	notify   map[int]chan struct{}
	nextSub  int
	suspect  map[types.UID]string // unschedulable pod → its resourceVersion at the last release
	released time.Time            // when a bound pod of the workload last released its resources
}

// RescheduleWindow is how long after a pod of the workload released its resources an
// unschedulable verdict issued before is suspect when the pod has not changed since:
// kube-scheduler's default maximum pod backoff (podMaxBackoffSeconds, 10 s) — by then it
// has retried every pod the release concerned — plus a second for the attempt itself.
const RescheduleWindow = 11 * time.Second

// rescheduleWindow is RescheduleWindow (tests shorten it).
var rescheduleWindow = RescheduleWindow

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
	ph := cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { w.changed() },
		UpdateFunc: func(oldObj, newObj any) {
			o, _ := oldObj.(*corev1.Pod)
			n, _ := newObj.(*corev1.Pod)
			if o != nil && n != nil && holds(o) && !holds(n) {
				w.release()
			}
			w.changed()
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok && holds(p) {
				w.release()
			}
			w.changed()
		},
	}
	if _, err := w.pods.AddEventHandler(ph); err != nil {
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
	for _, ch := range w.notify {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// Notify returns a channel that receives a value after events (several events may give
// one value) and a function that ends the notifications.
func (w *Watcher) Notify() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.notify == nil {
		w.notify = map[int]chan struct{}{}
	}
	id := w.nextSub
	w.nextSub++
	w.notify[id] = ch
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.notify, id)
		w.mu.Unlock()
	}
}

// holds reports whether a pod holds node resources: bound and not finished.
func holds(p *corev1.Pod) bool { return p.Spec.NodeName != "" && !finished(p) }

// release records that a pod of the workload released its node's resources: the pods
// unschedulable now may fit, and their verdicts are suspect until they change.
func (w *Watcher) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.released = time.Now()
	if w.suspect == nil {
		w.suspect = map[types.UID]string{}
	}
	for _, o := range w.pods.GetStore().List() {
		if p, ok := o.(*corev1.Pod); ok && Unschedulable(p) && p.DeletionTimestamp == nil {
			w.suspect[p.UID] = p.ResourceVersion
		}
	}
}

// StaleVerdicts returns how many of pods are unschedulable on a verdict that may be stale
// (see Watcher) and until when that can last (zero when none).
func (w *Watcher) StaleVerdicts(pods []*corev1.Pod) (n int, until time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.suspect) == 0 {
		return 0, time.Time{}
	}
	until = w.released.Add(rescheduleWindow)
	if !time.Now().Before(until) {
		clear(w.suspect)
		return 0, time.Time{}
	}
	for _, p := range pods {
		rv, ok := w.suspect[p.UID]
		switch {
		case !ok:
		case rv != p.ResourceVersion || !Unschedulable(p):
			delete(w.suspect, p.UID) // the scheduler has acted on it since the release
		default:
			n++
		}
	}
	if n == 0 {
		return 0, time.Time{}
	}
	return n, until
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
