package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	actuatorkube "github.com/scalelab/scalelab/actuators/kube"
	"github.com/scalelab/scalelab/agent"
	collectorkube "github.com/scalelab/scalelab/collectors/kube"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/actions"
	"github.com/scalelab/scalelab/framework/config"
	"github.com/scalelab/scalelab/kube"
	"github.com/scalelab/scalelab/loadgen"
	"github.com/scalelab/scalelab/policies/baselines"
	"github.com/scalelab/scalelab/policies/hpa"
	"github.com/scalelab/scalelab/policies/hpa/algorithm"
	"github.com/scalelab/scalelab/policies/ppo"
	"github.com/scalelab/scalelab/rewards"
)

// objects are the Kubernetes objects of every manifest, by "Kind/namespace/name".
type objects map[string]any

// manifests are the files holding Kubernetes objects (values files, the kind template
// and the agent's experiment config are checked on their own).
var manifests = []string{
	"triton/triton.yaml", "triton/hpa.yaml", "triton/hpa-queue-time.yaml",
	"gpu-operator/time-slicing.yaml", "loadgen/loadgen.yaml",
	"agent/rbac.yaml", "agent/agent-deployment.yaml",
}

// TestEveryYAMLFileIsChecked keeps the list above complete: a new manifest must be added.
func TestEveryYAMLFileIsChecked(t *testing.T) {
	others := []string{
		"kind/values.yaml", "gpu-operator/values.yaml", "metrics-server/values.yaml",
		"monitoring/kube-prometheus-stack-values.yaml", "monitoring/prometheus-adapter-values.yaml",
		"agent/agent.yaml",
	}
	var found []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			found = append(found, filepath.ToSlash(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		if !slices.Contains(manifests, f) && !slices.Contains(others, f) {
			t.Errorf("%s is not checked by any test: add it to manifests or to a values test", f)
		}
	}
}

// decode reads a multi-document manifest and decodes every document strictly (unknown or
// duplicate fields are errors) into its k8s.io/api type.
func decode(t *testing.T, path string) []any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out []any
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var obj any
		switch tm.APIVersion + "/" + tm.Kind {
		case "v1/Namespace":
			obj = &corev1.Namespace{}
		case "v1/ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1/Service":
			obj = &corev1.Service{}
		case "v1/ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "apps/v1/Deployment":
			obj = &appsv1.Deployment{}
		case "autoscaling/v2/HorizontalPodAutoscaler":
			obj = &autoscalingv2.HorizontalPodAutoscaler{}
		case "batch/v1/Job":
			obj = &batchv1.Job{}
		case "rbac.authorization.k8s.io/v1/Role":
			obj = &rbacv1.Role{}
		case "rbac.authorization.k8s.io/v1/RoleBinding":
			obj = &rbacv1.RoleBinding{}
		default:
			t.Fatalf("%s: unexpected %s %s", path, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s: %s does not decode strictly: %v", path, tm.Kind, err)
		}
		out = append(out, obj)
	}
	return out
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l...)
			out = append(out, '\n')
		}
	}
	return out
}

func loadAll(t *testing.T) objects {
	t.Helper()
	all := objects{}
	for _, f := range manifests {
		for _, o := range decode(t, f) {
			m := o.(metav1.Object)
			key := kindOf(o) + "/" + m.GetNamespace() + "/" + m.GetName()
			if f == "triton/hpa-queue-time.yaml" {
				key += "#queue-time" // an alternative to hpa.yaml, same object name
			}
			if _, dup := all[key]; dup {
				t.Errorf("%s defined twice", key)
			}
			all[key] = o
		}
	}
	return all
}

// kindOf is the object's kind.
func kindOf(o any) string {
	switch o.(type) {
	case *corev1.Namespace:
		return "Namespace"
	case *corev1.ConfigMap:
		return "ConfigMap"
	case *corev1.Service:
		return "Service"
	case *corev1.ServiceAccount:
		return "ServiceAccount"
	case *appsv1.Deployment:
		return "Deployment"
	case *autoscalingv2.HorizontalPodAutoscaler:
		return "HorizontalPodAutoscaler"
	case *batchv1.Job:
		return "Job"
	case *rbacv1.Role:
		return "Role"
	case *rbacv1.RoleBinding:
		return "RoleBinding"
	}
	return fmt.Sprintf("%T", o)
}

func get[T any](t *testing.T, all objects, key string) T {
	t.Helper()
	o, ok := all[key]
	if !ok {
		t.Fatalf("no %s in deploy/", key)
	}
	v, ok := o.(T)
	if !ok {
		t.Fatalf("%s is %T", key, o)
	}
	return v
}

func TestManifestsDecodeStrictly(t *testing.T) {
	all := loadAll(t)
	if len(all) != 13 {
		keys := make([]string, 0, len(all))
		for k := range all {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Errorf("%d objects, want 13: %v", len(all), keys)
	}
}

func TestTriton(t *testing.T) {
	all := loadAll(t)
	d := get[*appsv1.Deployment](t, all, "Deployment/inference/triton-mobilenetv4")
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Fatalf("the Deployment's selector %v does not match its pods %v", d.Spec.Selector, d.Spec.Template.Labels)
	}
	c := d.Spec.Template.Spec.Containers[0]
	gpu := c.Resources.Limits[kube.GPUResource]
	if gpu.Value() != 1 || c.Resources.Requests.Cpu().MilliValue() != 1000 {
		t.Errorf("triton resources = %v, want one nvidia.com/gpu and 1 CPU requested", c.Resources)
	}
	for _, a := range []string{"--model-repository=/models", "--model-control-mode=explicit", "--load-model=mobilenetv4"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("triton args %v lack %s", c.Args, a)
		}
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 8000 || ports["grpc"] != 8001 || ports["metrics"] != 8002 {
		t.Errorf("triton ports = %v", ports)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/v2/health/ready" || c.StartupProbe == nil {
		t.Errorf("triton probes: readiness %+v, startup %+v", c.ReadinessProbe, c.StartupProbe)
	}
	s := get[*corev1.Service](t, all, "Service/inference/triton-mobilenetv4")
	if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("the Service selects %v, not the Triton pods", s.Spec.Selector)
	}
	if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
		t.Errorf("Service type %s, want LoadBalancer (cloud-provider-kind)", s.Spec.Type)
	}
	// The HPA baseline: valid by the API server's rules, aimed at the Deployment, and the
	// same spec as the hpa policy the agent runs.
	for _, key := range []string{"HorizontalPodAutoscaler/inference/triton-mobilenetv4", "HorizontalPodAutoscaler/inference/triton-mobilenetv4#queue-time"} {
		h := get[*autoscalingv2.HorizontalPodAutoscaler](t, all, key)
		if errs := algorithm.ValidateSpec(h.Spec, field.NewPath("spec"), algorithm.ValidationOptions{}); len(errs) > 0 {
			t.Errorf("%s: %v", key, errs.ToAggregate())
		}
		if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != d.Name || h.Spec.ScaleTargetRef.APIVersion != "apps/v1" {
			t.Errorf("%s targets %+v", key, h.Spec.ScaleTargetRef)
		}
	}
	h := get[*autoscalingv2.HorizontalPodAutoscaler](t, all, "HorizontalPodAutoscaler/inference/triton-mobilenetv4")
	spec, errs := hpa.ResolveSpec(agentConfig(t).Config.Policies["hpa"].Raw["spec"], framework.WorkloadConfig{MinReplicas: 1, MaxReplicas: 4})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := algorithm.DefaultSpec(h.Spec)
	if !kube.EqualHPASpec(&spec, &want) {
		t.Errorf("deploy/triton/hpa.yaml and the agent's hpa policy differ:\n%+v\n%+v", want, spec)
	}
}

func agentConfig(t *testing.T) *config.Loaded {
	t.Helper()
	r := framework.NewRegistry()
	kube.Register(r)
	collectorkube.Register(r)
	actuatorkube.Register(r)
	actions.Register(r)
	rewards.Register(r)
	hpa.Register(r)
	baselines.Register(r)
	ppo.Register(r)
	l, err := config.Load("agent/agent.yaml", nil, r)
	if err != nil {
		t.Fatalf("deploy/agent/agent.yaml: %v", err)
	}
	return l
}

// The agent's config loads strictly, names the deployed workload, and (relative to
// /etc/scalelab, where the Deployment mounts it) finds the checkpoint where the Deployment
// mounts the checkpoints ConfigMap.
func TestAgentConfig(t *testing.T) {
	l := agentConfig(t)
	kc := l.Components["backend"].(*kube.Config)
	if kc.Namespace != "inference" || kc.Workload.Name != "triton-mobilenetv4" || kc.Workload.Kind != "Deployment" || kc.Kubeconfig != "" {
		t.Errorf("backend = %+v, want the in-cluster Triton Deployment", kc)
	}
	if kc.Prometheus.Address != "http://kube-prometheus-stack-prometheus.monitoring.svc:9090" || kc.Prometheus.Model != "mobilenetv4" {
		t.Errorf("prometheus = %+v", kc.Prometheus)
	}
	ck := l.Config.Policies["ppo"].Params["checkpoint"].(string)
	if got := filepath.Clean(filepath.Join("/etc/scalelab", ck)); got != "/configs/checkpoints/ppo-seed.json" {
		t.Errorf("in the pod the checkpoint resolves to %s", got)
	}
	if _, err := os.Stat(filepath.Join("agent", ck)); err != nil {
		t.Errorf("in the repository the checkpoint is missing: %v", err)
	}
	// The state and action design the checkpoint was trained with (configs/seed.yaml).
	seed, err := os.ReadFile("../configs/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"  features: [" + strings.Join(l.Config.State.Features, ", ") + "]", "  type: replica_delta", "  max_step: 1"} {
		if !strings.Contains(string(seed), line+"\n") {
			t.Errorf("configs/seed.yaml lacks %q: the agent's design differs from the trained one", line)
		}
	}
}

func TestAgentDeploymentAndRBAC(t *testing.T) {
	all := loadAll(t)
	d := get[*appsv1.Deployment](t, all, "Deployment/inference/scalelab-agent")
	spec := d.Spec.Template.Spec
	c := spec.Containers[0]
	if len(c.Args) < 2 || c.Args[0] != "agent" || c.Args[1] != "/etc/scalelab/agent.yaml" {
		t.Errorf("agent args = %v", c.Args)
	}
	lease := ""
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--lease-name="); ok {
			lease = v
		}
	}
	if !slices.Contains(c.Args, "--leader-elect") || *d.Spec.Replicas < 2 || lease == "" {
		t.Errorf("replicas %d args %v: want ≥ 2 replicas with leader election", *d.Spec.Replicas, c.Args)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Port.StrVal != "metrics" {
		t.Errorf("liveness probe = %+v, want /healthz on the metrics port", c.LivenessProbe)
	}
	sc := c.SecurityContext
	if spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("agent security context = %+v / %+v", spec.SecurityContext, sc)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["config"] != "/etc/scalelab" || mounts["checkpoints"] != "/configs/checkpoints" {
		t.Errorf("mounts = %v", mounts)
	}
	sa := get[*corev1.ServiceAccount](t, all, "ServiceAccount/inference/"+spec.ServiceAccountName)
	rb := get[*rbacv1.RoleBinding](t, all, "RoleBinding/inference/scalelab-agent")
	if rb.RoleRef.Kind != "Role" || len(rb.Subjects) != 1 || rb.Subjects[0].Name != sa.Name || rb.Subjects[0].Namespace != "inference" {
		t.Errorf("RoleBinding = %+v", rb)
	}
	role := get[*rbacv1.Role](t, all, "Role/inference/"+rb.RoleRef.Name)
	// Least privilege: exactly these grants (group|resource|verb|resourceName).
	var got []string
	for _, r := range role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					names := r.ResourceNames
					if len(names) == 0 {
						names = []string{"*"}
					}
					for _, n := range names {
						if g == "*" || res == "*" || v == "*" {
							t.Errorf("wildcard in rule %+v", r)
						}
						got = append(got, g+"|"+res+"|"+v+"|"+n)
					}
				}
			}
		}
	}
	sort.Strings(got)
	want := []string{
		"|pods|get|*", "|pods|list|*", "|pods|watch|*",
		"apps|deployments/scale|get|*", "apps|deployments/scale|update|*",
		"apps|deployments|get|*", "apps|deployments|list|*", "apps|deployments|watch|*",
		"autoscaling|horizontalpodautoscalers|create|*", "autoscaling|horizontalpodautoscalers|get|*",
		"autoscaling|horizontalpodautoscalers|list|*", "autoscaling|horizontalpodautoscalers|patch|*",
		"autoscaling|horizontalpodautoscalers|update|*",
		"coordination.k8s.io|leases|create|*", "coordination.k8s.io|leases|get|" + lease, "coordination.k8s.io|leases|update|" + lease,
		"metrics.k8s.io|pods|get|*", "metrics.k8s.io|pods|list|*",
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Role grants:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	svc := get[*corev1.Service](t, all, "Service/inference/scalelab-agent")
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) || svc.Spec.Ports[0].Name != "metrics" {
		t.Errorf("agent Service = %+v", svc.Spec)
	}
}

func TestLoadgenJob(t *testing.T) {
	all := loadAll(t)
	j := get[*batchv1.Job](t, all, "Job/inference/scalelab-loadgen")
	c := j.Spec.Template.Spec.Containers[0]
	args := map[string]string{}
	for _, a := range c.Args[1:] {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		args[k] = v
	}
	if c.Args[0] != "loadgen" || args["url"] != "http://triton-mobilenetv4.inference.svc:8000" || args["model"] != "mobilenetv4" || args["metrics-addr"] != ":9102" {
		t.Errorf("loadgen args = %v", c.Args)
	}
	if _, err := time.ParseDuration(args["duration"]); err != nil {
		t.Errorf("--duration: %v", err)
	}
	svc := get[*corev1.Service](t, all, "Service/inference/scalelab-loadgen")
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(j.Spec.Template.Labels)) || svc.Spec.Ports[0].Port != 9102 {
		t.Errorf("loadgen Service = %+v", svc.Spec)
	}
}

func values(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// at follows a key path ("a.b.c") through nested maps.
func at(t *testing.T, m map[string]any, path string) any {
	t.Helper()
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not a mapping", path, k)
		}
		if cur, ok = mm[k]; !ok {
			t.Fatalf("no key %s", path)
		}
	}
	return cur
}

func TestGPUOperatorAndTimeSlicing(t *testing.T) {
	v := values(t, "gpu-operator/values.yaml")
	for key, want := range map[string]any{"driver.enabled": false, "toolkit.enabled": false, "cdi.enabled": true, "migManager.enabled": false, "operator.runtimeClass": "nvidia"} {
		if got := at(t, v, key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	interval := ""
	for _, e := range at(t, v, "dcgmExporter.env").([]any) {
		if e.(map[string]any)["name"] == "DCGM_EXPORTER_INTERVAL" {
			interval = e.(map[string]any)["value"].(string)
		}
	}
	if ms, err := strconv.Atoi(interval); err != nil || ms > 15000 {
		t.Errorf("DCGM_EXPORTER_INTERVAL = %q, want at most the 15 s scrape interval", interval)
	}
	all := loadAll(t)
	name := at(t, v, "devicePlugin.config.name").(string)
	cm := get[*corev1.ConfigMap](t, all, "ConfigMap/gpu-operator/"+name)
	data, ok := cm.Data[at(t, v, "devicePlugin.config.default").(string)]
	if !ok {
		t.Fatalf("ConfigMap %s has no entry %v", name, at(t, v, "devicePlugin.config.default"))
	}
	var ts struct {
		Version string `json:"version"`
		Flags   struct {
			MigStrategy string `json:"migStrategy"`
		} `json:"flags"`
		Sharing struct {
			TimeSlicing struct {
				RenameByDefault            bool `json:"renameByDefault"`
				FailRequestsGreaterThanOne bool `json:"failRequestsGreaterThanOne"`
				Resources                  []struct {
					Name     string `json:"name"`
					Replicas int    `json:"replicas"`
				} `json:"resources"`
			} `json:"timeSlicing"`
		} `json:"sharing"`
	}
	if err := yaml.UnmarshalStrict([]byte(data), &ts); err != nil {
		t.Fatalf("time-slicing config: %v", err)
	}
	r := ts.Sharing.TimeSlicing.Resources
	maxReplicas := agentConfig(t).Config.Workload.MaxReplicas
	if ts.Version != "v1" || len(r) != 1 || r[0].Name != "nvidia.com/gpu" || r[0].Replicas != maxReplicas {
		t.Errorf("time slicing = %+v, want nvidia.com/gpu × %d (workload.max_replicas)", ts, maxReplicas)
	}
}

func TestMetricsServer(t *testing.T) {
	v := values(t, "metrics-server/values.yaml")
	args := at(t, v, "args").([]any)
	if !slices.Contains(args, any("--kubelet-insecure-tls")) {
		t.Errorf("metrics-server args %v lack --kubelet-insecure-tls (Kind's kubelets have self-signed certificates)", args)
	}
}

func TestMonitoring(t *testing.T) {
	v := values(t, "monitoring/kube-prometheus-stack-values.yaml")
	if at(t, v, "prometheus.prometheusSpec.scrapeInterval") != "15s" || at(t, v, "prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues") != false {
		t.Errorf("prometheusSpec = %v", at(t, v, "prometheus.prometheusSpec"))
	}
	all := loadAll(t)
	services := map[string]*corev1.Service{
		"triton":           get[*corev1.Service](t, all, "Service/inference/triton-mobilenetv4"),
		"scalelab-loadgen": get[*corev1.Service](t, all, "Service/inference/scalelab-loadgen"),
		"scalelab-agent":   get[*corev1.Service](t, all, "Service/inference/scalelab-agent"),
	}
	seen := map[string]bool{}
	for _, sm := range at(t, v, "prometheus.additionalServiceMonitors").([]any) {
		m := sm.(map[string]any)
		name := m["name"].(string)
		seen[name] = true
		ep := m["endpoints"].([]any)[0].(map[string]any)
		if ep["interval"] != "15s" {
			t.Errorf("ServiceMonitor %s interval %v, want 15s", name, ep["interval"])
		}
		sel := map[string]string{}
		for k, val := range m["selector"].(map[string]any)["matchLabels"].(map[string]any) {
			sel[k] = val.(string)
		}
		if svc, ok := services[name]; ok {
			if !labels.SelectorFromSet(sel).Matches(labels.Set(svc.Labels)) {
				t.Errorf("ServiceMonitor %s selects %v, the Service is labelled %v", name, sel, svc.Labels)
			}
			ns := m["namespaceSelector"].(map[string]any)["matchNames"].([]any)
			if !slices.Contains(ns, any(svc.Namespace)) {
				t.Errorf("ServiceMonitor %s looks in %v, the Service is in %s", name, ns, svc.Namespace)
			}
			found := false
			for _, p := range svc.Spec.Ports {
				found = found || p.Name == ep["port"]
			}
			if !found {
				t.Errorf("ServiceMonitor %s scrapes port %v, which Service %s lacks", name, ep["port"], svc.Name)
			}
		}
		if name == "dcgm-exporter" && ep["honorLabels"] != true {
			t.Errorf("DCGM-Exporter must keep its pod labels (honorLabels: true)")
		}
	}
	for _, want := range []string{"triton", "dcgm-exporter", "scalelab-loadgen", "scalelab-agent"} {
		if !seen[want] {
			t.Errorf("no ServiceMonitor %s", want)
		}
	}

	a := values(t, "monitoring/prometheus-adapter-values.yaml")
	if _, has := at(t, a, "rules").(map[string]any)["resource"]; has {
		t.Error("prometheus-adapter serves resource metrics: it would compete with metrics-server for metrics.k8s.io")
	}
	names := map[string]string{}
	for _, r := range at(t, a, "rules.custom").([]any) {
		m := r.(map[string]any)
		q := m["metricsQuery"].(string)
		if !strings.Contains(q, "<<.LabelMatchers>>") || !strings.Contains(q, "<<.GroupBy>>") {
			t.Errorf("metricsQuery %q lacks the adapter's placeholders", q)
		}
		names[m["name"].(map[string]any)["as"].(string)] = m["seriesQuery"].(string)
	}
	if !strings.HasPrefix(names["triton_queue_time_ms"], "nv_inference_queue_duration_us") || !strings.HasPrefix(names["gpu_utilization_percent"], "DCGM_FI_DEV_GPU_UTIL") {
		t.Errorf("adapter rules = %v", names)
	}
	h := get[*autoscalingv2.HorizontalPodAutoscaler](t, all, "HorizontalPodAutoscaler/inference/triton-mobilenetv4#queue-time")
	if _, ok := names[h.Spec.Metrics[0].Pods.Metric.Name]; !ok {
		t.Errorf("hpa-queue-time.yaml scales on %s, which the adapter does not serve", h.Spec.Metrics[0].Pods.Metric.Name)
	}
}

// The nvkind template renders (with the sprig function it uses) into a Kind cluster with a
// GPU worker that mounts the model repository at /models, where Triton reads it.
func TestKindTemplate(t *testing.T) {
	tmpl, err := template.New("cluster.yaml.tmpl").Funcs(template.FuncMap{
		"hasKey": func(m map[string]any, k string) bool { _, ok := m[k]; return ok },
	}).ParseFiles("kind/cluster.yaml.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	vals := values(t, "kind/values.yaml")
	vals["modelRepository"] = "/home/user/scalelab/deploy/triton/model-repository"
	var out bytes.Buffer
	if err := tmpl.Execute(&out, vals); err != nil {
		t.Fatal(err)
	}
	var cluster struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
		Name       string `json:"name"`
		Nodes      []struct {
			Role        string            `json:"role"`
			Labels      map[string]string `json:"labels"`
			ExtraMounts []struct {
				HostPath      string `json:"hostPath"`
				ContainerPath string `json:"containerPath"`
			} `json:"extraMounts"`
		} `json:"nodes"`
	}
	if err := yaml.UnmarshalStrict(out.Bytes(), &cluster); err != nil {
		t.Fatalf("rendered template:\n%s\n%v", out.String(), err)
	}
	if cluster.Kind != "Cluster" || cluster.APIVersion != "kind.x-k8s.io/v1alpha4" || cluster.Name != "scalelab" || len(cluster.Nodes) != 2 {
		t.Fatalf("cluster = %+v", cluster)
	}
	w := cluster.Nodes[1]
	mounts := map[string]string{}
	for _, m := range w.ExtraMounts {
		mounts[m.ContainerPath] = m.HostPath
	}
	if w.Role != "worker" || mounts["/models"] != vals["modelRepository"] || mounts["/var/run/nvidia-container-devices/cdi/runtime.nvidia.com/gpu/all"] != "/dev/null" {
		t.Errorf("worker = %+v", w)
	}
	all := loadAll(t)
	d := get[*appsv1.Deployment](t, all, "Deployment/inference/triton-mobilenetv4")
	if hp := d.Spec.Template.Spec.Volumes[0].HostPath; hp == nil || hp.Path != "/models" {
		t.Errorf("Triton's model volume = %+v, want hostPath /models", d.Spec.Template.Spec.Volumes[0])
	}
}

// config.pbtxt declares what the load generator sends and what the batching actions
// reload: model name, tensor names and shapes, dynamic batching, a GPU instance group.
func TestTritonModelConfig(t *testing.T) {
	b, err := os.ReadFile("triton/model-repository/mobilenetv4/config.pbtxt")
	if err != nil {
		t.Fatal(err)
	}
	text := string(stripComments(b))
	find := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("config.pbtxt: no match for %s", re)
		}
		return m[1]
	}
	lg := loadgen.Defaults()
	if name := find(`(?m)^name: "([^"]+)"`); name != lg.Model || name != agentConfig(t).Components["backend"].(*kube.Config).Prometheus.Model {
		t.Errorf("model name %q, load generator %q", name, lg.Model)
	}
	maxBatch, _ := strconv.Atoi(find(`(?m)^max_batch_size: (\d+)`))
	if find(`input \[\s*\{\s*name: "([^"]+)"`) != lg.InputName || find(`output \[\s*\{\s*name: "([^"]+)"`) != lg.OutputName {
		t.Errorf("tensor names differ from the load generator's %q/%q", lg.InputName, lg.OutputName)
	}
	dims := strings.Fields(strings.ReplaceAll(find(`input \[[^]]*dims: \[([^]]*)\]`), ",", " "))
	if strings.Join(dims, "x") != "3x224x224" {
		t.Errorf("input dims %v, want the load generator's 3×224×224", dims)
	}
	for _, p := range strings.Split(find(`preferred_batch_size: \[([^]]*)\]`), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > maxBatch {
			t.Errorf("preferred batch size %q outside [1, %d]", p, maxBatch)
		}
	}
	if find(`max_queue_delay_microseconds: (\d+)`) == "" || find(`kind: (KIND_\w+)`) != "KIND_GPU" || find(`platform: "([^"]+)"`) != "onnxruntime_onnx" {
		t.Error("dynamic batching, GPU instance group or ONNX platform missing")
	}
}

// Every metric the dashboard plots exists: scalelab's own (agent, load generator) checked
// against their registries, the others against the names the stack exports.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/scalelab-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, n := range []string{
		"nv_inference_request_success", "nv_inference_request_failure", "nv_inference_queue_duration_us",
		"nv_inference_pending_request_count", "nv_inference_count", "nv_inference_exec_count",
		"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE",
		"kube_deployment_spec_replicas", "kube_deployment_status_replicas_ready", "kube_horizontalpodautoscaler_status_desired_replicas",
		"container_cpu_usage_seconds_total", "kube_pod_container_resource_requests",
	} {
		known[n] = true
	}
	gather := func(reg *prometheus.Registry) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			known[mf.GetName()] = true
			if mf.GetType().String() == "HISTOGRAM" {
				known[mf.GetName()+"_bucket"] = true
			}
		}
	}
	m := agent.NewMetrics("ppo")
	m.Decision(framework.Decision{Terms: []float64{1}, Next: framework.Observation{Values: []float64{1}, Valid: []bool{true}}}, []framework.FeatureSpec{{Name: "request_rate"}}, []string{"latency"}, time.Now())
	m.ObservePhase("observe", time.Millisecond)
	m.StepError("actuate")
	gather(m.Registry())
	lreg := prometheus.NewRegistry()
	loadgen.NewMetrics(lreg, "mobilenetv4", 50*time.Millisecond, func() float64 { return 1 })
	gather(lreg)
	ident := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	skip := map[string]bool{"sum": true, "rate": true, "by": true, "le": true, "histogram_quantile": true, "clamp_min": true, "avg": true,
		"max": true, "increase": true, "pod": true, "policy": true, "phase": true, "namespace": true, "model": true, "deployment": true,
		"container": true, "image": true, "resource": true, "cpu": true, "e": true}
	if len(dash.Panels) < 8 || dash.UID == "" {
		t.Fatalf("%d panels, uid %q", len(dash.Panels), dash.UID)
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			// Drop label matchers, ranges and strings before looking for metric names.
			expr := regexp.MustCompile(`\{[^}]*\}|\[[^]]*\]|"[^"]*"`).ReplaceAllString(tg.Expr, "")
			for _, id := range ident.FindAllString(expr, -1) {
				if skip[id] {
					continue
				}
				if !known[id] {
					t.Errorf("panel %q queries %s, which nothing exports", p.Title, id)
				}
			}
		}
	}
}

func TestScripts(t *testing.T) {
	scripts := []string{"install.sh", "up.sh", "../scripts/build-k8s-testenv.sh"}
	for _, s := range scripts {
		if out, err := exec.Command("bash", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
		fi, err := os.Stat(s)
		if err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", s)
		}
	}
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("shellcheck missing in CI (.ci/run installs Debian's shellcheck)")
		}
		t.Skip("shellcheck not installed (apt-get install shellcheck)")
	}
	if out, err := exec.Command(sc, scripts...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

func TestExportScript(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	dir := t.TempDir()
	cmd := exec.Command(py, "-c", "import py_compile,sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)",
		"triton/export_mobilenetv4.py", filepath.Join(dir, "x.pyc"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("export_mobilenetv4.py does not compile: %v\n%s", err, out)
	}
	b, _ := os.ReadFile("triton/export_mobilenetv4.py")
	for _, want := range []string{`input_names=["input"]`, `output_names=["output"]`, `"mobilenetv4", "1"`, `"model.onnx"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("export script lacks %s (config.pbtxt's names and the repository layout)", want)
		}
	}
}
