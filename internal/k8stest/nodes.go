package k8stest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
)

// GPUResource is the extended resource the NVIDIA device plugin advertises.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// NodeOptions describe a fake node.
type NodeOptions struct {
	// GPUs is the node's nvidia.com/gpu capacity (the time-sliced replicas a real node's
	// device plugin advertises).
	GPUs int
	// CPU and Memory are the node's capacity (defaults "16" cores and "64Gi").
	CPU, Memory string
	// Labels are added to the node's labels.
	Labels map[string]string
}

// AddNode creates a kwok-managed node and waits until it is schedulable: Ready (kwok's
// node stages report it Ready and renew its lease) and free of the taints the control
// plane puts on a node that is not ready yet. The API server taints every new node
// node.kubernetes.io/not-ready:NoSchedule and the node lifecycle controller removes the
// taint only after the node reports Ready; a pod created in between is marked
// Unschedulable ("untolerated taint") and bound a moment later, which a test would take
// for a full node. Tests sharing one control plane should give their nodes distinct labels
// and select them with a nodeSelector so they do not share capacity.
func (e *Env) AddNode(ctx context.Context, name string, o NodeOptions) (*corev1.Node, error) {
	if o.CPU == "" {
		o.CPU = "16"
	}
	if o.Memory == "" {
		o.Memory = "64Gi"
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(o.CPU),
		corev1.ResourceMemory: resource.MustParse(o.Memory),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	if o.GPUs > 0 {
		capacity[GPUResource] = *resource.NewQuantity(int64(o.GPUs), resource.DecimalSI)
	}
	labels := map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"}
	for k, v := range o.Labels {
		labels[k] = v
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      labels,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	if _, err := e.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("k8stest: create node %s: %w", name, err)
	}
	var ready *corev1.Node
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := e.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if Schedulable(n) {
			ready = n
			return true, nil
		}
		return false, e.exited()
	})
	if err != nil {
		return nil, fmt.Errorf("k8stest: node %s not Ready and untainted: %w; kwok log tail:\n%s", name, err, e.logTail("kwok"))
	}
	return ready, nil
}

// Schedulable reports whether the scheduler may place pods on n: Ready, not cordoned, and
// without NoSchedule or NoExecute taints (the harness creates nodes without taints, so any
// such taint is the node lifecycle's: not-ready, unreachable).
func Schedulable(n *corev1.Node) bool {
	if n.Spec.Unschedulable {
		return false
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return false
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// DeleteNode deletes a node (kwok then stops managing it).
func (e *Env) DeleteNode(ctx context.Context, name string) error {
	err := e.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("k8stest: delete node %s: %w", name, err)
	}
	return nil
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a fresh namespace named after the test, waits until its default
// service account exists (so pods can be created at once), and deletes it when the test
// ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = base[:40]
	}
	name := strings.Trim(base, "-") + "-" + rand.String(5)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("k8stest: create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	})
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := e.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("k8stest: namespace %s has no default service account: %v; kube-controller-manager log tail:\n%s", name, err, e.logTail("kube-controller-manager"))
	}
	return name
}
