// Package kube is scalelab's real-cluster backend (type "kubernetes"): a framework.Backend
// on wall-clock time over a Kubernetes workload (a Deployment or StatefulSet serving
// inference), reached with client-go. collectors/kube observes it and actuators/kube
// drives it, as collectors/sim and actuators/sim do for the simulator.
//
// Config is the backend's section of an experiment (backend: {type: kubernetes, ...});
// it names the cluster connection, the workload, the HPA scalelab may manage, server-side
// dry run, the CPU-resize mode and Triton's model-control endpoint. Triton reads and
// reloads a model's configuration for batching actions.
//
// The Backend's clock is the wall clock. Reset removes HPAs scalelab created in an earlier
// episode, sets the initial replicas through the scale subresource and waits until the
// workload is steady (every pod Ready or unschedulable, none starting or terminating; an
// Unschedulable verdict given before a pod of the workload freed its resources counts only
// once the pod has changed or the scheduler's maximum backoff has passed), then starts the
// load through a pluggable LoadDriver. Advance waits. Accounting combines
// the load driver's client-side counts and latency histogram with time integrals of the
// workload's pods the backend keeps itself from a pod informer (replica-seconds,
// ready-replica-seconds, GPU-seconds, CPU and memory requests × time); the remaining
// usage integrals (CPU-seconds, GPU-busy-seconds, batches, queue time) come from a
// UsageSource: PromUsage's range queries by default. Backends of one process that drive
// the same workload take turns (a lock taken at the first Reset, released at Close).
package kube
