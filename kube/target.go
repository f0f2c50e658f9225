package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// ErrHPAConflict is returned when a write would change replicas that a
// HorizontalPodAutoscaler also controls: two controllers writing one scale subresource
// fight each other, so scalelab refuses unless the config lets it manage that HPA.
var ErrHPAConflict = errors.New("a HorizontalPodAutoscaler controls the workload")

// OriginalSpecAnnotation holds the JSON spec an HPA had before scalelab first changed it
// (manage_hpa), so that it can be restored by hand.
const OriginalSpecAnnotation = "scalelab.io/original-spec"

// Target is the scaled workload together with the client-go operations on it that the
// backend (Reset) and the actuator share: the scale subresource, the HPAs that target the
// workload, and optimistic writes retried on conflict. Every write honours DryRun
// (server-side dry run: dryRun=All).
type Target struct {
	Client       kubernetes.Interface
	Namespace    string
	Workload     WorkloadRef
	HPAName      string
	FieldManager string
	DryRun       bool
	Logger       *slog.Logger

	conflicts atomic.Int64
}

// NewTarget returns the target of a backend config.
func NewTarget(client kubernetes.Interface, c *Config, logger *slog.Logger) *Target {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Target{Client: client, Namespace: c.Namespace, Workload: c.Workload, HPAName: c.HPAName,
		FieldManager: c.FieldManager, DryRun: c.DryRun, Logger: logger}
}

// Conflicts returns how many optimistic writes the API server rejected with a conflict
// (each was retried).
func (t *Target) Conflicts() int64 { return t.conflicts.Load() }

// Retry runs an optimistic read-modify-write, retrying on conflict with client-go's
// default backoff (5 attempts) and counting the conflicts.
func (t *Target) Retry(what string, f func() error) error {
	attempt := 0
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		attempt++
		err := f()
		if apierrors.IsConflict(err) {
			t.conflicts.Add(1)
			t.log().Debug("write conflict, retrying", "what", what, "attempt", attempt, "err", err)
		}
		return err
	})
}

func (t *Target) log() *slog.Logger {
	if t.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return t.Logger
}

// DryRunOption is the dryRun field of write options: [All] under dry run, else nil.
func (t *Target) DryRunOption() []string {
	if t.DryRun {
		return []string{metav1.DryRunAll}
	}
	return nil
}

// GetScale reads the workload's scale subresource.
func (t *Target) GetScale(ctx context.Context) (*autoscalingv1.Scale, error) {
	var (
		sc  *autoscalingv1.Scale
		err error
	)
	switch t.Workload.Kind {
	case KindStatefulSet:
		sc, err = t.Client.AppsV1().StatefulSets(t.Namespace).GetScale(ctx, t.Workload.Name, metav1.GetOptions{})
	default:
		sc, err = t.Client.AppsV1().Deployments(t.Namespace).GetScale(ctx, t.Workload.Name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("get scale of %s %s/%s: %w", t.Workload.Kind, t.Namespace, t.Workload.Name, err)
	}
	return sc, nil
}

func (t *Target) updateScale(ctx context.Context, sc *autoscalingv1.Scale) error {
	opts := metav1.UpdateOptions{FieldManager: t.FieldManager, DryRun: t.DryRunOption()}
	var err error
	if t.Workload.Kind == KindStatefulSet {
		_, err = t.Client.AppsV1().StatefulSets(t.Namespace).UpdateScale(ctx, t.Workload.Name, sc, opts)
	} else {
		_, err = t.Client.AppsV1().Deployments(t.Namespace).UpdateScale(ctx, t.Workload.Name, sc, opts)
	}
	return err
}

// SetScale writes n to the scale subresource: Get, then Update carrying the
// resourceVersion read, retried on conflict. It returns the replicas before the write
// (equal to n when nothing needed to change). It does not look at HPAs: callers decide.
func (t *Target) SetScale(ctx context.Context, n int) (int, error) {
	if n < 0 {
		return -1, fmt.Errorf("replicas must be ≥ 0, got %d", n)
	}
	var prev int32
	err := t.Retry("scale", func() error {
		sc, err := t.GetScale(ctx)
		if err != nil {
			return err
		}
		prev = sc.Spec.Replicas
		if int(prev) == n {
			return nil
		}
		sc.Spec.Replicas = int32(n)
		return t.updateScale(ctx, sc)
	})
	if err != nil {
		return -1, fmt.Errorf("scale %s %s/%s to %d: %w", t.Workload.Kind, t.Namespace, t.Workload.Name, n, err)
	}
	return int(prev), nil
}

// Targets reports whether an HPA's scale target is the workload.
func (t *Target) Targets(h *autoscalingv2.HorizontalPodAutoscaler) bool {
	ref := h.Spec.ScaleTargetRef
	if ref.Kind != t.Workload.Kind || ref.Name != t.Workload.Name {
		return false
	}
	group := ""
	if i := strings.Index(ref.APIVersion, "/"); i >= 0 {
		group = ref.APIVersion[:i]
	}
	return group == "apps" || group == "extensions" || ref.APIVersion == ""
}

// HPAs returns the HPAs that target the workload, the configured hpa_name first, then by
// name. It lists from the API server, not a cache: an HPA created a moment ago must not
// be missed.
func (t *Target) HPAs(ctx context.Context) ([]autoscalingv2.HorizontalPodAutoscaler, error) {
	list, err := t.Client.AutoscalingV2().HorizontalPodAutoscalers(t.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list HorizontalPodAutoscalers in %s: %w", t.Namespace, err)
	}
	var out []autoscalingv2.HorizontalPodAutoscaler
	for i := range list.Items {
		if t.Targets(&list.Items[i]) {
			out = append(out, list.Items[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].Name == t.HPAName) != (out[j].Name == t.HPAName) {
			return out[i].Name == t.HPAName
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// ControllingHPA returns the HPA that targets the workload (see HPAs), or nil.
func (t *Target) ControllingHPA(ctx context.Context) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	hs, err := t.HPAs(ctx)
	if err != nil || len(hs) == 0 {
		return nil, err
	}
	return &hs[0], nil
}

// IsScalelabHPA reports whether scalelab created the HPA (for this workload).
func (t *Target) IsScalelabHPA(h *autoscalingv2.HorizontalPodAutoscaler) bool {
	return h.Labels[ManagedByLabel] == ManagedByValue && h.Annotations[WorkloadAnnotation] == t.Workload.String()
}

// DefaultHPAName is the name of an HPA scalelab creates: hpa_name, else the workload's.
func (t *Target) DefaultHPAName() string {
	if t.HPAName != "" {
		return t.HPAName
	}
	return t.Workload.Name
}

// CreateHPA creates an HPA for the workload with spec (its scaleTargetRef set to the
// workload), labelled as scalelab's so that Reset removes it.
func (t *Target) CreateHPA(ctx context.Context, spec autoscalingv2.HorizontalPodAutoscalerSpec) error {
	spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: t.Workload.Kind, Name: t.Workload.Name}
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{
			Name:        t.DefaultHPAName(),
			Namespace:   t.Namespace,
			Labels:      map[string]string{ManagedByLabel: ManagedByValue},
			Annotations: map[string]string{WorkloadAnnotation: t.Workload.String()},
		},
		Spec: spec,
	}
	_, err := t.Client.AutoscalingV2().HorizontalPodAutoscalers(t.Namespace).Create(ctx, h, metav1.CreateOptions{FieldManager: t.FieldManager, DryRun: t.DryRunOption()})
	if err != nil {
		return fmt.Errorf("create HorizontalPodAutoscaler %s/%s: %w", t.Namespace, h.Name, err)
	}
	return nil
}

// DeleteScalelabHPAs deletes the HPAs scalelab created for the workload and returns their
// names.
func (t *Target) DeleteScalelabHPAs(ctx context.Context) ([]string, error) {
	hs, err := t.HPAs(ctx)
	if err != nil {
		return nil, err
	}
	var deleted []string
	for i := range hs {
		if !t.IsScalelabHPA(&hs[i]) {
			continue
		}
		err := t.Client.AutoscalingV2().HorizontalPodAutoscalers(t.Namespace).Delete(ctx, hs[i].Name, metav1.DeleteOptions{DryRun: t.DryRunOption()})
		if err != nil && !apierrors.IsNotFound(err) {
			return deleted, fmt.Errorf("delete HorizontalPodAutoscaler %s/%s: %w", t.Namespace, hs[i].Name, err)
		}
		deleted = append(deleted, hs[i].Name)
	}
	return deleted, nil
}

// HPAPatch is a change to an HPA's spec; nil fields stay as they are.
type HPAPatch struct {
	MinReplicas *int32
	MaxReplicas *int32
	// TargetCPU is the averageUtilization (percent) of the CPU Resource metric; the metric
	// is added when the spec has none. Other metrics are kept.
	TargetCPU *int32
}

// PatchHPA changes the named HPA with an autoscaling/v2 JSON merge patch carrying the
// resourceVersion it was computed from (conflicts are retried). The first change to an HPA
// scalelab did not create records its original spec in the scalelab.io/original-spec
// annotation. It reports whether anything changed.
func (t *Target) PatchHPA(ctx context.Context, name string, p HPAPatch) (bool, error) {
	changed := false
	err := t.Retry("hpa", func() error {
		changed = false
		h, err := t.Client.AutoscalingV2().HorizontalPodAutoscalers(t.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		spec := h.Spec.DeepCopy()
		if p.MinReplicas != nil {
			spec.MinReplicas = p.MinReplicas
		}
		if p.MaxReplicas != nil {
			spec.MaxReplicas = *p.MaxReplicas
		}
		if p.TargetCPU != nil {
			spec.Metrics = WithCPUTarget(spec.Metrics, *p.TargetCPU)
		}
		if EqualHPASpec(&h.Spec, spec) {
			return nil
		}
		changed = true
		meta := map[string]any{"resourceVersion": h.ResourceVersion}
		if !t.IsScalelabHPA(h) && h.Annotations[OriginalSpecAnnotation] == "" {
			orig, err := json.Marshal(h.Spec)
			if err != nil {
				return err
			}
			meta["annotations"] = map[string]any{OriginalSpecAnnotation: string(orig)}
		}
		sp := map[string]any{}
		if p.MinReplicas != nil {
			sp["minReplicas"] = *p.MinReplicas
		}
		if p.MaxReplicas != nil {
			sp["maxReplicas"] = *p.MaxReplicas
		}
		if p.TargetCPU != nil {
			sp["metrics"] = spec.Metrics
		}
		data, err := json.Marshal(map[string]any{"metadata": meta, "spec": sp})
		if err != nil {
			return err
		}
		_, err = t.Client.AutoscalingV2().HorizontalPodAutoscalers(t.Namespace).Patch(ctx, name, types.MergePatchType, data,
			metav1.PatchOptions{FieldManager: t.FieldManager, DryRun: t.DryRunOption()})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("patch HorizontalPodAutoscaler %s/%s: %w", t.Namespace, name, err)
	}
	return changed, nil
}

// WithCPUTarget returns metrics with the CPU Resource metric's target set to an average
// utilisation of pct percent (appended when absent).
func WithCPUTarget(ms []autoscalingv2.MetricSpec, pct int32) []autoscalingv2.MetricSpec {
	out := make([]autoscalingv2.MetricSpec, 0, len(ms)+1)
	found := false
	for _, m := range ms {
		m := *m.DeepCopy()
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU {
			m.Resource.Target = autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &pct}
			found = true
		}
		out = append(out, m)
	}
	if !found {
		out = append(out, CPUMetric(pct))
	}
	return out
}

// CPUMetric is a Resource metric on CPU with an average utilisation target of pct percent.
func CPUMetric(pct int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name:   corev1.ResourceCPU,
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &pct},
		},
	}
}

// EqualHPASpec reports whether two specs are the same (as JSON).
func EqualHPASpec(x, y *autoscalingv2.HorizontalPodAutoscalerSpec) bool {
	bx, err1 := json.Marshal(x)
	by, err2 := json.Marshal(y)
	return err1 == nil && err2 == nil && string(bx) == string(by)
}

// CPUTarget returns the CPU utilisation target (percent) of an HPA, or 0 when h is nil or
// has no CPU utilisation metric.
func CPUTarget(h *autoscalingv2.HorizontalPodAutoscaler) float64 {
	if h == nil {
		return 0
	}
	for _, m := range h.Spec.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
			m.Resource.Target.AverageUtilization != nil {
			return float64(*m.Resource.Target.AverageUtilization)
		}
	}
	return 0
}

// Template returns the workload's pod template and its label selector.
func (t *Target) Template(ctx context.Context) (*corev1.PodTemplateSpec, labels.Selector, error) {
	var (
		tmpl *corev1.PodTemplateSpec
		sel  *metav1.LabelSelector
	)
	switch t.Workload.Kind {
	case KindStatefulSet:
		s, err := t.Client.AppsV1().StatefulSets(t.Namespace).Get(ctx, t.Workload.Name, metav1.GetOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("get StatefulSet %s/%s: %w", t.Namespace, t.Workload.Name, err)
		}
		tmpl, sel = &s.Spec.Template, s.Spec.Selector
	default:
		d, err := t.Client.AppsV1().Deployments(t.Namespace).Get(ctx, t.Workload.Name, metav1.GetOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("get Deployment %s/%s: %w", t.Namespace, t.Workload.Name, err)
		}
		tmpl, sel = &d.Spec.Template, d.Spec.Selector
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, nil, fmt.Errorf("selector of %s: %w", t.Workload, err)
	}
	return tmpl, s, nil
}

// Pods lists the workload's pods from the API server, sorted by name.
func (t *Target) Pods(ctx context.Context, sel labels.Selector) ([]corev1.Pod, error) {
	pods, err := t.Client.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", t.Workload, err)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	return pods.Items, nil
}

// ScaleTo sets the workload's desired replicas to n through the scale subresource, unless
// an HPA targets the workload: then it refuses with ErrHPAConflict, or, when manage is
// true, first pins that HPA (minReplicas = maxReplicas = n) so that both controllers agree.
// It returns the replicas before the write and a note of what it did to an HPA.
func (t *Target) ScaleTo(ctx context.Context, n int, manage bool) (prev int, note string, err error) {
	if n < 0 {
		return -1, "", fmt.Errorf("replicas must be ≥ 0, got %d", n)
	}
	hpa, err := t.ControllingHPA(ctx)
	if err != nil {
		return -1, "", err
	}
	if hpa != nil {
		if !manage {
			return -1, "", fmt.Errorf("%w: %s %s/%s is the scale target of HorizontalPodAutoscaler %q; scalelab will not fight it over replicas: delete the HPA, or set backend.manage_hpa: true to let scalelab pin it (minReplicas = maxReplicas = the requested replicas)",
				ErrHPAConflict, t.Workload.Kind, t.Namespace, t.Workload.Name, hpa.Name)
		}
		if n < 1 {
			return -1, "", fmt.Errorf("HPA %q cannot be pinned to %d replicas (minReplicas ≥ 1)", hpa.Name, n)
		}
		m := int32(n)
		ch, err := t.PatchHPA(ctx, hpa.Name, HPAPatch{MinReplicas: &m, MaxReplicas: &m})
		if err != nil {
			return -1, "", err
		}
		if ch {
			note = fmt.Sprintf("HPA %s pinned to %d replicas", hpa.Name, n)
		}
	}
	prev, err = t.SetScale(ctx, n)
	return prev, note, err
}
