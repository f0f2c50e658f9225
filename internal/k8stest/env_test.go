package k8stest

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
)

var env *Env

func TestMain(m *testing.M) { os.Exit(Main(m, Options{}, &env)) }

// The build script and the harness must agree on versions and on the cache path, or the
// harness looks for binaries the script never builds.
func TestScriptMatchesHarness(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "scripts", "build-k8s-testenv.sh"))
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	for _, want := range []string{
		"K8S_VERSION=" + KubernetesVersion,
		"ETCD_VERSION=" + EtcdVersion,
		"KWOK_VERSION=" + KwokVersion,
		`scalelab/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}`,
		"SCALELAB_K8S_CACHE",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("scripts/build-k8s-testenv.sh lacks %q", want)
		}
	}
	for _, bin := range Binaries {
		if !strings.Contains(script, bin) {
			t.Errorf("scripts/build-k8s-testenv.sh does not build %s", bin)
		}
	}
}

func TestCacheDirHonoursOverride(t *testing.T) {
	t.Setenv("SCALELAB_K8S_CACHE", "/tmp/somewhere")
	d, err := CacheDir()
	if err != nil || d != "/tmp/somewhere" {
		t.Fatalf("CacheDir() = %q, %v; want /tmp/somewhere", d, err)
	}
	t.Setenv("SCALELAB_K8S_CACHE", t.TempDir())
	if _, err := BinDir(); err == nil || !strings.Contains(err.Error(), "scripts/build-k8s-testenv.sh") {
		t.Fatalf("BinDir() on an empty cache = %v, want an error naming the build script", err)
	}
}

// The PKI must chain: the serving certificate is valid for 127.0.0.1 and the admin
// certificate is a client certificate in system:masters, both signed by the CA.
func TestPKI(t *testing.T) {
	p, err := newPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.caPEM) {
		t.Fatal("CA PEM does not parse")
	}
	load := func(path string) *x509.Certificate {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	serving := load(p.ServingCert)
	if _, err := serving.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("serving certificate does not verify for 127.0.0.1: %v", err)
	}
	admin := load(p.AdminCert)
	if _, err := admin.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin certificate does not verify as a client certificate: %v", err)
	}
	if len(admin.Subject.Organization) != 1 || admin.Subject.Organization[0] != "system:masters" {
		t.Errorf("admin organisation = %v, want [system:masters]", admin.Subject.Organization)
	}
}

// The control plane schedules GPU pods on a kwok node up to its nvidia.com/gpu capacity:
// with 2 GPUs and 3 replicas requesting one each, 2 pods run Ready and 1 stays Pending as
// Unschedulable — the situation the actuator and collector tests build on.
func TestGPUNodeCapacity(t *testing.T) {
	e := Require(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := e.Namespace(t)
	node := "gpu-" + ns
	if _, err := e.AddNode(ctx, node, NodeOptions{GPUs: 2, Labels: map[string]string{"scalelab.test/pool": ns}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteNode(context.Background(), node) })

	replicas := int32(3)
	labels := map[string]string{"app": "gpu"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "gpu", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"scalelab.test/pool": ns},
					Containers: []corev1.Container{{
						Name:  "c",
						Image: "example.invalid/triton:1",
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{GPUResource: resource.MustParse("1")},
							Limits:   corev1.ResourceList{GPUResource: resource.MustParse("1")},
						},
					}},
				},
			},
		},
	}
	if _, err := e.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ready, pending int
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		pods, err := e.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=gpu"})
		if err != nil {
			return false, err
		}
		ready, pending = 0, 0
		for _, p := range pods.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					ready++
				}
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
					pending++
				}
			}
		}
		return ready == 2 && pending == 1, nil
	})
	if err != nil {
		t.Fatalf("want 2 ready and 1 unschedulable pod, got %d ready and %d unschedulable: %v", ready, pending, err)
	}

	// The kubeconfig written for command-line tools reaches the same API server.
	cfg, err := clientcmd.BuildConfigFromFlags("", e.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != e.APIServerURL {
		t.Errorf("kubeconfig server = %s, want %s", cfg.Host, e.APIServerURL)
	}
}

func TestSchedulable(t *testing.T) {
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	tests := []struct {
		name string
		node corev1.Node
		want bool
	}{
		{"ready", corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, true},
		{"no condition yet", corev1.Node{}, false},
		{"not ready", corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}}}, false},
		{"ready, not-ready taint not yet removed", corev1.Node{
			Spec:   corev1.NodeSpec{Taints: []corev1.Taint{{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule}}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, false},
		{"cordoned", corev1.Node{Spec: corev1.NodeSpec{Unschedulable: true}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, false},
		{"prefer-no-schedule taint", corev1.Node{
			Spec:   corev1.NodeSpec{Taints: []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectPreferNoSchedule}}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, true},
	}
	for _, tt := range tests {
		if got := Schedulable(&tt.node); got != tt.want {
			t.Errorf("%s: Schedulable = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A pod created right after AddNode returns is bound at its first scheduling attempt:
// AddNode waits for the node lifecycle controller to lift the not-ready taint the API
// server puts on new nodes (before, such a pod was marked Unschedulable for a moment —
// the cause of a flaky Reset test).
func TestAddNodeReturnsASchedulableNode(t *testing.T) {
	e := Require(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := e.Namespace(t)
	for i := range 3 {
		node := fmt.Sprintf("fresh-%d-%s", i, ns)
		if _, err := e.AddNode(ctx, node, NodeOptions{GPUs: 1, Labels: map[string]string{"scalelab.test/pool": node}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.DeleteNode(context.Background(), node) })
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: ns},
			Spec: corev1.PodSpec{NodeSelector: map[string]string{"scalelab.test/pool": node}, Containers: []corev1.Container{{Name: "c", Image: "example.invalid/c:1",
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{GPUResource: resource.MustParse("1")}}}}},
		}
		w, err := e.Client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + pod.Name})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for bound := false; !bound; {
			select {
			case ev := <-w.ResultChan():
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
						t.Fatalf("pod on the new node %s was unschedulable: %s", node, c.Message)
					}
				}
				bound = p.Spec.NodeName != ""
			case <-ctx.Done():
				t.Fatalf("pod on %s not bound: %v", node, ctx.Err())
			}
		}
		w.Stop()
	}
}
