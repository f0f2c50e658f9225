// Package k8stest runs a real Kubernetes control plane for scalelab's integration tests:
// etcd, kube-apiserver, kube-controller-manager (the real Deployment, ReplicaSet and
// HorizontalPodAutoscaler controllers), kube-scheduler and kwok (nodes and pods without
// kubelets), all on 127.0.0.1, from binaries built from Go modules by
// scripts/build-k8s-testenv.sh into a cache directory outside the repository.
//
// A test package starts the control plane once, in TestMain:
//
//	var env *k8stest.Env
//
//	func TestMain(m *testing.M) { os.Exit(k8stest.Main(m, k8stest.Options{}, &env)) }
//
// and each integration test asks for it and for a fresh namespace:
//
//	func TestScale(t *testing.T) {
//		e := k8stest.Require(t, env)
//		ns := e.Namespace(t)
//		...
//	}
//
// When the binaries are missing, Main leaves env nil and Require skips the test with a
// message naming the build script — except in CI (CI=true) or with
// SCALELAB_REQUIRE_K8S=1, where missing binaries fail the package. `go test -short` does not
// start the control plane either (its tests skip).
//
// Fake GPU nodes are kwok nodes with an nvidia.com/gpu capacity (AddNode, which returns
// once the node is schedulable: Ready and rid of the not-ready taint): the real
// scheduler places pods that request GPUs on them until the capacity is used up, and the
// pods beyond it stay Pending ("Insufficient nvidia.com/gpu"), as on a time-sliced GPU node
// whose device plugin advertises that many replicas.
package k8stest
