// Package sim is scalelab's embedded discrete-event simulator of a small Kubernetes cluster
// serving inference on time-sliced GPUs — the default backend, where policies are trained
// and most studies run. *Sim implements framework.Backend; collectors/sim and actuators/sim
// observe and drive it.
//
// # Model
//
// A Scenario (YAML, see docs/simulator.md) describes nodes with allocatable CPU and memory
// and GPUs with frame buffer, each advertised as N nvidia.com/gpu replicas by device-plugin
// time-slicing; a Deployment whose pods request CPU, memory and one GPU replica; and a
// Triton-like server in each pod. The default scenario, edge-rtx3080, is one workstation
// node with one RTX 3080 time-sliced ×4 serving MobileNetV4-Conv-Medium; edge-2node-rtx3080
// reuses it on two nodes.
//
// A request's path: the load's arrival → routing to a Ready pod (random as kube-proxy,
// round robin or least outstanding; none ready: refused) → the pod's CPU stage (receive,
// decode, copy: cpu_per_request of CPU work, limited processor sharing of the pod's CPU
// limit among http_threads requests) → the dynamic batcher's queue (max_queue_size) → a
// batch of b on a model instance: GPU work t(b) = max(t_min, t_fixed + t_per_image·b) times
// a jitter factor, executed on the pod's GPU, whose time is shared equally among the busy
// pods' contexts with a time-slicing efficiency loss → the response. A client that has
// waited client timeout gives up (a drop); the server does not notice once the request is
// queued.
//
// Cluster: kube-scheduler-like filtering (CPU, memory, GPU replicas) and scoring (least
// allocated, balanced allocation, hostname spreading); Pending pods retried when resources
// free; pod lifecycle Pending → image pull → container start (frame buffer for the CUDA
// context and engines, or the pod fails) → model load → readiness probe → Ready →
// Terminating (no new requests, in-flight ones finish within the grace period); a
// Deployment controller with the ReplicaSet controller's victim order and rolling updates
// for CPU-request changes; batching changes applied by model reloads.
//
// Observation: metrics are snapshotted every observation.resolution; features and per-pod
// samples are computed as the real pipeline would show them, with exporter and scrape
// intervals (Triton counters, DCGM-Exporter, cAdvisor, metrics-server). Accounting: Cut
// returns the ground truth of a window — counts, time integrals and an HdrHistogram of
// completion latencies — never a list of requests; memory is flat in simulated time.
//
// # Engine and determinism
//
// Time is int64 nanoseconds from framework.SimEpoch. Components own persistent timers in a
// typed binary heap ordered by (time, scheduling sequence), so ties resolve identically on
// every run; arrivals come from their own sequence merged with the heap; the CPU stage is
// evaluated lazily in closed form, so most requests cost no heap operation at all. Each
// random source (arrivals, service jitter, start-up and scheduling, routing) is its own PCG
// stream seeded by the episode seed: the same seed gives bit-identical results, and two
// policies under one seed see the identical arrival sequence. A Sim is single-threaded; run
// one per goroutine.
package sim
