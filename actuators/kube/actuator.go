package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/scalelab/scalelab/framework"
	kb "github.com/scalelab/scalelab/kube"
)

// ErrHPAConflict is returned when a command would change replicas that a
// HorizontalPodAutoscaler also controls: two controllers writing one scale subresource
// fight each other, so the actuator refuses unless the config lets it manage that HPA.
var ErrHPAConflict = kb.ErrHPAConflict

// ErrSimulationOnly is returned for an action this cluster (or this config) cannot carry
// out: batching without Triton's model-control API, CPU requests without a resize mode or
// on a cluster without in-place pod resize.
var ErrSimulationOnly = errors.New("simulation-only on this cluster")

// Options configure an Actuator. OptionsFrom derives them from the backend config.
type Options struct {
	Namespace    string
	Workload     kb.WorkloadRef
	Container    string
	HPAName      string
	ManageHPA    bool
	DryRun       bool
	CPUResize    string
	Triton       kb.TritonConfig
	FieldManager string
	// MinReplicas and MaxReplicas are the workload bounds (an HPA scalelab creates for
	// hpa_target actions spans them).
	MinReplicas, MaxReplicas int
	Logger                   *slog.Logger
	// HTTP is the client for Triton's API (default: one with Triton.Timeout).
	HTTP *http.Client
}

// OptionsFrom returns the actuator options of a backend config and workload bounds.
func OptionsFrom(c *kb.Config, w framework.WorkloadConfig, logger *slog.Logger) Options {
	return Options{
		Namespace: c.Namespace, Workload: c.Workload, Container: c.Container, HPAName: c.HPAName,
		ManageHPA: c.ManageHPA, DryRun: c.DryRun, CPUResize: c.CPUResize, Triton: c.Triton,
		FieldManager: c.FieldManager, MinReplicas: w.MinReplicas, MaxReplicas: w.MaxReplicas, Logger: logger,
	}
}

// Actuator carries out framework commands on a Kubernetes workload with client-go:
// replicas through the scale subresource, HPA target/min/max through autoscaling/v2
// patches, CPU requests by in-place resize or a template patch, and batching through
// Triton's model-control API. Every write honours server-side dry run; read-modify-write
// cycles retry on conflict.
type Actuator struct {
	client kubernetes.Interface
	o      Options
	log    *slog.Logger
	triton *kb.Triton

	mu sync.Mutex
	// clusterHPA is the spec of the HPA baseline bound by BindPolicy: the cluster's own
	// HPA controller runs it and the actuator stands back from replicas.
	clusterHPA *autoscalingv2.HorizontalPodAutoscalerSpec
	// episode reports the backend's episode; the bound spec is (re)applied once per episode.
	episode        func() uint64
	appliedEpisode uint64
	applied        bool
	resizeSupport  *bool

	t *kb.Target
}

var (
	_ framework.Actuator     = (*Actuator)(nil)
	_ framework.PolicyBinder = (*Actuator)(nil)
)

// New returns an actuator for the workload in o using client.
func New(client kubernetes.Interface, o Options) (*Actuator, error) {
	if client == nil {
		return nil, errors.New("actuator kubernetes: nil client")
	}
	if o.Namespace == "" || o.Workload.Name == "" {
		return nil, fmt.Errorf("actuator kubernetes: namespace and workload name are required, got %q and %q", o.Namespace, o.Workload.Name)
	}
	if o.Workload.Kind != kb.KindDeployment && o.Workload.Kind != kb.KindStatefulSet {
		return nil, fmt.Errorf("actuator kubernetes: workload.kind: must be Deployment or StatefulSet, got %q", o.Workload.Kind)
	}
	if o.MinReplicas < 1 || o.MaxReplicas < o.MinReplicas {
		return nil, fmt.Errorf("actuator kubernetes: workload replicas must satisfy 1 ≤ min_replicas ≤ max_replicas, got %d and %d", o.MinReplicas, o.MaxReplicas)
	}
	if o.CPUResize == "" {
		o.CPUResize = kb.CPUResizeNone
	}
	if o.FieldManager == "" {
		o.FieldManager = "scalelab"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	hc := o.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: o.Triton.Timeout}
	}
	t := &kb.Target{Client: client, Namespace: o.Namespace, Workload: o.Workload, HPAName: o.HPAName,
		FieldManager: o.FieldManager, DryRun: o.DryRun, Logger: o.Logger}
	return &Actuator{client: client, o: o, log: o.Logger, triton: &kb.Triton{Model: o.Triton.Model, HTTP: hc}, t: t}, nil
}

// Conflicts returns how many optimistic writes the API server rejected with a conflict
// (each was retried).
func (a *Actuator) Conflicts() int64 { return a.t.Conflicts() }

// Target returns the workload target the actuator writes to.
func (a *Actuator) Target() *kb.Target { return a.t }

// BindPolicy binds the policy the loop runs. When it is the HPA baseline (it carries an
// autoscaling/v2 HorizontalPodAutoscalerSpec), the actuator applies that spec to the
// cluster at the start of every episode and stands back: the cluster's own HPA
// controller sets the replicas, and the policy's replica commands are recorded but not
// applied. Other policies leave the actuator as it is.
func (a *Actuator) BindPolicy(p framework.Policy) error {
	s, ok := p.(interface {
		Spec() autoscalingv2.HorizontalPodAutoscalerSpec
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	if !ok {
		a.clusterHPA = nil
		return nil
	}
	spec := s.Spec()
	a.clusterHPA = &spec
	a.applied = false
	return nil
}

// BindEpisode tells the actuator how to read the backend's episode number, so a bound
// HPA spec is applied again after each Reset (which removes HPAs scalelab created).
func (a *Actuator) BindEpisode(episode func() uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.episode = episode
}

// StandsBack reports whether the cluster's HPA controller sets the replicas (an HPA
// baseline is bound).
func (a *Actuator) StandsBack() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.clusterHPA != nil
}

// Apply carries out c. Batching and CPU requests first (they take effect with the real
// system's delays: a model reload, a resize or a rolling update, as Applied.Note says),
// then HPATarget (creating or patching the HPA scalelab manages), else Replicas through the
// scale subresource — refused with ErrHPAConflict when an HPA targets the workload and
// manage_hpa is off. Applied.Replicas is the desired count in force afterwards.
func (a *Actuator) Apply(ctx context.Context, c framework.Command) (framework.Applied, error) {
	if err := ctx.Err(); err != nil {
		return framework.Applied{}, err
	}
	var (
		notes    []string
		changed  bool
		replicas = -1
	)
	fail := func(err error) (framework.Applied, error) {
		return framework.Applied{Replicas: a.currentOr(ctx, replicas), Changed: changed, DryRun: a.o.DryRun, Note: strings.Join(notes, "; ")},
			fmt.Errorf("actuator kubernetes: %w", err)
	}
	standBack, err := a.ensureClusterHPA(ctx)
	if err != nil {
		return fail(err)
	}
	if standBack.note != "" {
		notes = append(notes, standBack.note)
		changed = changed || standBack.changed
	}
	if c.Batching != nil {
		ch, note, err := a.SetBatching(ctx, *c.Batching)
		changed = changed || ch // some servers may have reloaded
		if err != nil {
			return fail(err)
		}
		changed = changed || ch
		if note != "" {
			notes = append(notes, note)
		}
	}
	if c.CPURequestMilli != nil {
		ch, note, err := a.SetCPURequest(ctx, *c.CPURequestMilli)
		changed = changed || ch // a partial resize changed some pods
		if err != nil {
			return fail(err)
		}
		changed = changed || ch
		if note != "" {
			notes = append(notes, note)
		}
	}
	switch {
	case c.HPATarget != nil:
		ch, note, err := a.SetHPATarget(ctx, *c.HPATarget)
		if err != nil {
			return fail(err)
		}
		changed = changed || ch
		if note != "" {
			notes = append(notes, note)
		}
	case c.Replicas != nil && standBack.active:
		notes = append(notes, fmt.Sprintf("the cluster's HPA controller sets replicas (policy recommended %d)", *c.Replicas))
	case c.Replicas != nil:
		r, ch, note, err := a.SetReplicas(ctx, *c.Replicas)
		if err != nil {
			return fail(err)
		}
		replicas = r
		changed = changed || ch
		if note != "" {
			notes = append(notes, note)
		}
	}
	if replicas < 0 {
		sc, err := a.t.GetScale(ctx)
		if err != nil {
			return fail(err)
		}
		replicas = int(sc.Spec.Replicas)
	}
	return framework.Applied{Replicas: replicas, Changed: changed, DryRun: a.o.DryRun && changed, Note: strings.Join(notes, "; ")}, nil
}

// currentOr returns r when known (≥ 0), else the workload's desired replicas (0 when even
// that read fails).
func (a *Actuator) currentOr(ctx context.Context, r int) int {
	if r >= 0 {
		return r
	}
	sc, err := a.t.GetScale(ctx)
	if err != nil {
		return 0
	}
	return int(sc.Spec.Replicas)
}

type standBackState struct {
	active  bool
	changed bool
	note    string
}

// ensureClusterHPA applies the bound HPA spec once per episode.
func (a *Actuator) ensureClusterHPA(ctx context.Context) (standBackState, error) {
	a.mu.Lock()
	spec := a.clusterHPA
	var ep uint64
	if a.episode != nil {
		ep = a.episode()
	}
	due := spec != nil && (!a.applied || ep != a.appliedEpisode)
	a.mu.Unlock()
	if spec == nil {
		return standBackState{}, nil
	}
	if !due {
		return standBackState{active: true}, nil
	}
	ch, note, err := a.ApplyHPASpec(ctx, *spec)
	if err != nil {
		return standBackState{}, fmt.Errorf("apply the HPA baseline's spec: %w", err)
	}
	a.mu.Lock()
	a.applied, a.appliedEpisode = true, ep
	a.mu.Unlock()
	return standBackState{active: true, changed: ch, note: note}, nil
}

// ---- replicas ----

// SetReplicas sets the workload's desired replicas through the scale subresource
// (Get/Update with the object's resourceVersion, retried on conflict). When an HPA targets
// the workload it refuses with ErrHPAConflict, unless manage_hpa is set: then it first pins
// the HPA (minReplicas = maxReplicas = n) so both controllers agree. It returns the
// desired replicas in force afterwards (unchanged under dry run), whether anything
// changed, and a note.
func (a *Actuator) SetReplicas(ctx context.Context, n int) (int, bool, string, error) {
	prev, note, err := a.t.ScaleTo(ctx, n, a.o.ManageHPA)
	if err != nil {
		return -1, note != "", note, fmt.Errorf("replicas: %w", err)
	}
	var notes []string
	if note != "" {
		notes = append(notes, note)
	}
	if prev == n {
		return n, note != "", strings.Join(notes, "; "), nil
	}
	if a.o.DryRun {
		notes = append(notes, fmt.Sprintf("server-side dry run: replicas %d → %d validated, not applied", prev, n))
		return prev, true, strings.Join(notes, "; "), nil
	}
	return n, true, strings.Join(notes, "; "), nil
}

// ---- HorizontalPodAutoscaler ----

// SetHPATarget drives an HPA's CPU utilisation target (the hpa_target action design):
// it creates the HPA (between the workload bounds, labelled as scalelab's) when none
// targets the workload, else patches its target and restores its bounds to the workload's
// (undoing a pin). It needs manage_hpa: scalelab then owns that HPA.
func (a *Actuator) SetHPATarget(ctx context.Context, pct float64) (bool, string, error) {
	if math.IsNaN(pct) || pct < 1 || pct > 1000 {
		return false, "", fmt.Errorf("hpa_target: must be a CPU utilisation in [1, 1000] percent, got %v", pct)
	}
	if !a.o.ManageHPA {
		return false, "", fmt.Errorf("hpa_target: actions drive an HPA: set backend.manage_hpa: true to let scalelab create and patch HorizontalPodAutoscaler %q for %s %s", a.t.DefaultHPAName(), a.o.Workload.Kind, a.o.Workload.Name)
	}
	target := int32(math.Round(pct))
	lo, hi := int32(a.o.MinReplicas), int32(a.o.MaxReplicas)
	h, err := a.t.ControllingHPA(ctx)
	if err != nil {
		return false, "", err
	}
	if h == nil {
		spec := autoscalingv2.HorizontalPodAutoscalerSpec{
			MinReplicas: &lo, MaxReplicas: hi,
			Metrics: []autoscalingv2.MetricSpec{kb.CPUMetric(target)},
		}
		if err := a.t.CreateHPA(ctx, spec); err != nil {
			return false, "", fmt.Errorf("hpa_target: %w", err)
		}
		return true, fmt.Sprintf("created HPA %s (CPU %d %%, replicas %d–%d)%s", a.t.DefaultHPAName(), target, lo, hi, a.dryNote()), nil
	}
	ch, err := a.t.PatchHPA(ctx, h.Name, kb.HPAPatch{MinReplicas: &lo, MaxReplicas: &hi, TargetCPU: &target})
	if err != nil {
		return false, "", fmt.Errorf("hpa_target: %w", err)
	}
	if !ch {
		return false, "", nil
	}
	return true, fmt.Sprintf("HPA %s target CPU %d %% from its next sync%s", h.Name, target, a.dryNote()), nil
}

func (a *Actuator) dryNote() string {
	if a.o.DryRun {
		return " (server-side dry run: not persisted)"
	}
	return ""
}

// ApplyHPASpec makes the cluster run spec for the workload: it creates the HPA (labelled
// as scalelab's, so Reset removes it) or, when one already targets the workload, replaces
// its spec — which needs manage_hpa unless scalelab created it. An empty scaleTargetRef
// refers to the workload. It reports whether anything changed.
func (a *Actuator) ApplyHPASpec(ctx context.Context, spec autoscalingv2.HorizontalPodAutoscalerSpec) (bool, string, error) {
	if spec.ScaleTargetRef.Name == "" {
		spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: a.o.Workload.Kind, Name: a.o.Workload.Name}
	} else if spec.ScaleTargetRef.Kind != a.o.Workload.Kind || spec.ScaleTargetRef.Name != a.o.Workload.Name {
		return false, "", fmt.Errorf("HPA spec: scaleTargetRef %s/%s is not the backend's workload %s", spec.ScaleTargetRef.Kind, spec.ScaleTargetRef.Name, a.o.Workload)
	}
	h, err := a.t.ControllingHPA(ctx)
	if err != nil {
		return false, "", err
	}
	if h == nil {
		if err := a.t.CreateHPA(ctx, spec); err != nil {
			return false, "", err
		}
		return true, fmt.Sprintf("applied the HPA baseline as HorizontalPodAutoscaler %s; the cluster's HPA controller scales%s", a.t.DefaultHPAName(), a.dryNote()), nil
	}
	ours := h.Labels[kb.ManagedByLabel] == kb.ManagedByValue
	if !ours && !a.o.ManageHPA {
		return false, "", fmt.Errorf("%w: HorizontalPodAutoscaler %q already targets %s; set backend.manage_hpa: true to let scalelab replace its spec with the baseline's", ErrHPAConflict, h.Name, a.o.Workload)
	}
	changed := false
	err = a.t.Retry("hpa", func() error {
		cur, err := a.client.AutoscalingV2().HorizontalPodAutoscalers(a.o.Namespace).Get(ctx, h.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if kb.EqualHPASpec(&cur.Spec, &spec) {
			changed = false
			return nil
		}
		changed = true
		upd := cur.DeepCopy()
		if !ours && upd.Annotations[kb.OriginalSpecAnnotation] == "" {
			orig, err := json.Marshal(cur.Spec)
			if err != nil {
				return err
			}
			if upd.Annotations == nil {
				upd.Annotations = map[string]string{}
			}
			upd.Annotations[kb.OriginalSpecAnnotation] = string(orig)
		}
		upd.Spec = spec
		_, err = a.client.AutoscalingV2().HorizontalPodAutoscalers(a.o.Namespace).Update(ctx, upd, metav1.UpdateOptions{FieldManager: a.o.FieldManager, DryRun: a.t.DryRunOption()})
		return err
	})
	if err != nil {
		return false, "", fmt.Errorf("update HorizontalPodAutoscaler %s/%s: %w", a.o.Namespace, h.Name, err)
	}
	if !changed {
		return false, fmt.Sprintf("HorizontalPodAutoscaler %s already runs the HPA baseline's spec", h.Name), nil
	}
	return true, fmt.Sprintf("applied the HPA baseline's spec to HorizontalPodAutoscaler %s; the cluster's HPA controller scales%s", h.Name, a.dryNote()), nil
}

// ---- CPU requests ----

// SetCPURequest changes the CPU request (millicores) of the workload's container as
// cpu_resize says: in_place patches each running pod's pods/resize subresource (guaranteed
// pods get the same limit, keeping their QoS class), rolling patches the pod template (a
// rolling update), none refuses with ErrSimulationOnly.
func (a *Actuator) SetCPURequest(ctx context.Context, milli int64) (bool, string, error) {
	if milli <= 0 {
		return false, "", fmt.Errorf("cpu_request: must be > 0 millicores, got %d", milli)
	}
	switch a.o.CPUResize {
	case kb.CPUResizeRolling:
		return a.resizeTemplate(ctx, milli)
	case kb.CPUResizeInPlace:
		ok, err := a.inPlaceSupported(ctx)
		if err != nil {
			return false, "", fmt.Errorf("cpu_request: %w", err)
		}
		if !ok {
			return false, "", fmt.Errorf("cpu_request: %w: the API server has no pods/resize subresource (in-place pod resize needs Kubernetes ≥ 1.33); set backend.cpu_resize: rolling to change the pod template instead", ErrSimulationOnly)
		}
		return a.resizePods(ctx, milli)
	default:
		return false, "", fmt.Errorf("cpu_request: %w: backend.cpu_resize is none; set in_place (pods/resize) or rolling (pod template) to change CPU requests on the cluster", ErrSimulationOnly)
	}
}

// inPlaceSupported asks discovery once whether pods/resize exists.
func (a *Actuator) inPlaceSupported(ctx context.Context) (bool, error) {
	a.mu.Lock()
	if a.resizeSupport != nil {
		v := *a.resizeSupport
		a.mu.Unlock()
		return v, nil
	}
	a.mu.Unlock()
	list, err := a.client.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		return false, fmt.Errorf("discover core/v1 resources: %w", err)
	}
	ok := false
	for _, r := range list.APIResources {
		if r.Name == "pods/resize" {
			ok = true
		}
	}
	a.mu.Lock()
	a.resizeSupport = &ok
	a.mu.Unlock()
	return ok, nil
}

// containerName is the configured container, else the template's first.
func (a *Actuator) containerName(t *corev1.PodTemplateSpec) (string, error) {
	if a.o.Container != "" {
		for _, c := range t.Spec.Containers {
			if c.Name == a.o.Container {
				return c.Name, nil
			}
		}
		return "", fmt.Errorf("container: %s has no container %q", a.o.Workload, a.o.Container)
	}
	if len(t.Spec.Containers) == 0 {
		return "", fmt.Errorf("%s has no containers", a.o.Workload)
	}
	return t.Spec.Containers[0].Name, nil
}

func containerOf(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// cpuPatch returns a strategic-merge patch of one container's CPU request (and limit when
// the container is guaranteed: limit = request, so the QoS class stays).
func cpuPatch(c *corev1.Container, milli int64) (map[string]any, error) {
	q := resource.NewMilliQuantity(milli, resource.DecimalSI).String()
	res := map[string]any{"requests": map[string]any{"cpu": q}}
	if lim, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		req, hasReq := c.Resources.Requests[corev1.ResourceCPU]
		switch {
		case hasReq && req.Cmp(lim) == 0:
			res["limits"] = map[string]any{"cpu": q}
		case lim.MilliValue() < milli:
			return nil, fmt.Errorf("cpu_request: %dm exceeds container %s's CPU limit %s", milli, c.Name, lim.String())
		}
	}
	return map[string]any{"name": c.Name, "resources": res}, nil
}

func (a *Actuator) resizeTemplate(ctx context.Context, milli int64) (bool, string, error) {
	t, _, err := a.t.Template(ctx)
	if err != nil {
		return false, "", fmt.Errorf("cpu_request: %w", err)
	}
	name, err := a.containerName(t)
	if err != nil {
		return false, "", fmt.Errorf("cpu_request: %w", err)
	}
	c := containerOf(t.Spec.Containers, name)
	if cur, ok := c.Resources.Requests[corev1.ResourceCPU]; ok && cur.MilliValue() == milli {
		return false, "", nil
	}
	cp, err := cpuPatch(c, milli)
	if err != nil {
		return false, "", err
	}
	data, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{cp}}}}})
	if err != nil {
		return false, "", err
	}
	opts := metav1.PatchOptions{FieldManager: a.o.FieldManager, DryRun: a.t.DryRunOption()}
	if a.o.Workload.Kind == kb.KindStatefulSet {
		_, err = a.client.AppsV1().StatefulSets(a.o.Namespace).Patch(ctx, a.o.Workload.Name, types.StrategicMergePatchType, data, opts)
	} else {
		_, err = a.client.AppsV1().Deployments(a.o.Namespace).Patch(ctx, a.o.Workload.Name, types.StrategicMergePatchType, data, opts)
	}
	if err != nil {
		return false, "", fmt.Errorf("cpu_request: patch the pod template of %s: %w", a.o.Workload, err)
	}
	return true, fmt.Sprintf("cpu request → %dm in the pod template: a rolling update replaces the pods%s", milli, a.dryNote()), nil
}

func (a *Actuator) resizePods(ctx context.Context, milli int64) (bool, string, error) {
	t, sel, err := a.t.Template(ctx)
	if err != nil {
		return false, "", fmt.Errorf("cpu_request: %w", err)
	}
	name, err := a.containerName(t)
	if err != nil {
		return false, "", fmt.Errorf("cpu_request: %w", err)
	}
	pods, err := a.client.CoreV1().Pods(a.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return false, "", fmt.Errorf("cpu_request: list pods of %s: %w", a.o.Workload, err)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	resized := 0
	var errs []error
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		c := containerOf(p.Spec.Containers, name)
		if c == nil {
			continue
		}
		if cur, ok := c.Resources.Requests[corev1.ResourceCPU]; ok && cur.MilliValue() == milli {
			continue
		}
		cp, err := cpuPatch(c, milli)
		if err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", p.Name, err))
			continue
		}
		data, err := json.Marshal(map[string]any{"spec": map[string]any{"containers": []any{cp}}})
		if err != nil {
			return false, "", err
		}
		_, err = a.client.CoreV1().Pods(a.o.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, data,
			metav1.PatchOptions{FieldManager: a.o.FieldManager, DryRun: a.t.DryRunOption()}, "resize")
		if err != nil {
			if apierrors.IsInvalid(err) && strings.Contains(err.Error(), "without support for resize") {
				// The kubelet of the pod's node does not report container resources: it
				// cannot resize in place. The API server refuses the whole class of change.
				errs = append(errs, fmt.Errorf("resize pod %s on node %s: %w: its kubelet does not support in-place resize (%v); set backend.cpu_resize: rolling to change the pod template instead",
					p.Name, p.Spec.NodeName, ErrSimulationOnly, err))
				continue
			}
			errs = append(errs, fmt.Errorf("resize pod %s: %w", p.Name, err))
			continue
		}
		resized++
	}
	if err := errors.Join(errs...); err != nil {
		return resized > 0, "", fmt.Errorf("cpu_request: %w", err)
	}
	if resized == 0 {
		return false, "", nil
	}
	return true, fmt.Sprintf("cpu request → %dm on %d pods by in-place resize (the kubelet applies it; pods created later use the template's request)%s", milli, resized, a.dryNote()), nil
}

// ---- batching ----

// SetBatching reloads the model on every Triton server of the workload with the batching
// settings applied to its current configuration (Triton's model-control API; the server
// swaps models once the new one is loaded). Servers already at the settings are left
// alone. Without backend.triton.model it refuses with ErrSimulationOnly. Pods started
// later load config.pbtxt from the model repository: make the repository's file match to
// keep the change.
func (a *Actuator) SetBatching(ctx context.Context, b framework.BatchingSettings) (bool, string, error) {
	if a.o.Triton.Model == "" {
		return false, "", fmt.Errorf("batching: %w: set backend.triton.model (Triton's model-control API, --model-control-mode=explicit) to change dynamic batching on the cluster", ErrSimulationOnly)
	}
	if b.MaxBatchSize < 1 {
		return false, "", fmt.Errorf("batching: max_batch_size must be ≥ 1, got %d", b.MaxBatchSize)
	}
	for _, p := range b.PreferredSizes {
		if p < 1 || p > b.MaxBatchSize {
			return false, "", fmt.Errorf("batching: preferred size %d outside [1, max_batch_size %d]", p, b.MaxBatchSize)
		}
	}
	if b.MaxQueueDelay < 0 || b.MaxQueueSize < 0 || b.InstanceCount < 0 {
		return false, "", fmt.Errorf("batching: max_queue_delay, max_queue_size and instance_count must be ≥ 0, got %s, %d, %d", b.MaxQueueDelay, b.MaxQueueSize, b.InstanceCount)
	}
	eps, err := a.tritonEndpoints(ctx)
	if err != nil {
		return false, "", fmt.Errorf("batching: %w", err)
	}
	reloaded := 0
	var errs []error
	for _, ep := range eps {
		cfg, err := a.triton.ModelConfig(ctx, ep)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if sameBatching(kb.BatchingOf(cfg), b) {
			continue
		}
		if a.o.DryRun {
			reloaded++
			continue
		}
		if err := a.triton.Load(ctx, ep, kb.WithBatching(cfg, b)); err != nil {
			errs = append(errs, err)
			continue
		}
		reloaded++
	}
	if err := errors.Join(errs...); err != nil {
		return reloaded > 0, "", fmt.Errorf("batching: %w", err)
	}
	if reloaded == 0 {
		return false, "", nil
	}
	if a.o.DryRun {
		return true, fmt.Sprintf("dry run: model %s would reload on %d Triton servers", a.o.Triton.Model, reloaded), nil
	}
	return true, fmt.Sprintf("model %s reloaded with new batching on %d Triton servers", a.o.Triton.Model, reloaded), nil
}

// tritonEndpoints are the configured endpoints, else http://<pod IP>:<port> of every Ready
// pod of the workload.
func (a *Actuator) tritonEndpoints(ctx context.Context) ([]string, error) {
	if len(a.o.Triton.Endpoints) > 0 {
		return a.o.Triton.Endpoints, nil
	}
	_, sel, err := a.t.Template(ctx)
	if err != nil {
		return nil, err
	}
	pods, err := a.client.CoreV1().Pods(a.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", a.o.Workload, err)
	}
	var out []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.PodIP != "" && podReady(&p) {
			out = append(out, fmt.Sprintf("http://%s:%d", p.Status.PodIP, a.o.Triton.Port))
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("no Ready pod of %s to reconfigure", a.o.Workload)
	}
	return out, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func sameBatching(x, y framework.BatchingSettings) bool {
	if x.MaxBatchSize != y.MaxBatchSize || x.MaxQueueDelay != y.MaxQueueDelay || x.MaxQueueSize != y.MaxQueueSize ||
		(y.InstanceCount > 0 && x.InstanceCount != y.InstanceCount) || len(x.PreferredSizes) != len(y.PreferredSizes) {
		return false
	}
	for i := range x.PreferredSizes {
		if x.PreferredSizes[i] != y.PreferredSizes[i] {
			return false
		}
	}
	return true
}

// Register adds the kubernetes backend's actuator to r.
func Register(r *framework.Registry) {
	r.RegisterActuator(framework.Factory[framework.Actuator]{
		Type: kb.Type,
		Doc:  "carries out commands on a Kubernetes workload with client-go: scale subresource, HPA patches, CPU resize, Triton batching; server-side dry run",
		New: func(bc framework.BuildContext, _ any) (framework.Actuator, error) {
			b, ok := bc.Backend.(*kb.Backend)
			if !ok {
				return nil, fmt.Errorf("actuator kubernetes: needs the kubernetes backend (*kube.Backend), got %T", bc.Backend)
			}
			return FromBackend(b, bc.Workload, bc.Logger)
		},
	})
}

// FromBackend builds the actuator of a backend: its client and config, bound to its
// episodes (so an HPA baseline's spec is applied again after every Reset).
func FromBackend(b *kb.Backend, w framework.WorkloadConfig, logger *slog.Logger) (*Actuator, error) {
	cfg := b.Config()
	a, err := New(b.Client(), OptionsFrom(&cfg, w, logger))
	if err != nil {
		return nil, err
	}
	a.BindEpisode(b.Episode)
	return a, nil
}
