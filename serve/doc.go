// Package serve is `scalelab serve`: a KServe-v2-compatible inference endpoint that
// emulates one Triton pod of a scenario with the simulator's latency model. It is an
// emulator, for running the real-cluster path — load generator, Prometheus, collectors,
// agent — end to end on a machine without a GPU: it computes nothing, it only takes the
// time the modelled pod would take, and exports the metrics the real stack would.
//
// # Protocol
//
// GET /v2/health/live, /v2/health/ready, /v2, /v2/models/{model}[/versions/{v}] (metadata)
// and …/ready; POST …/infer with JSON or binary tensors (package kserve). A request carries
// one input: the tensor input (FP32 or UINT8, shape [b, input_shape…]) or the image input
// (BYTES, JPEG or PNG files, shape [b] or [b, 1]); b images form the request's batch,
// 1 ≤ b ≤ max_batch_size. Malformed requests get 400 with {"error": "..."} (messages after
// Triton's); a request refused by a full queue (max_queue_size) gets 503. The output is an
// FP32 [b, classes] one-hot vector per image, derived from the input's bytes.
//
// Model control, as Triton's model-configuration and model-repository extensions:
// GET …/config returns the model configuration in Triton's JSON form; POST
// /v2/repository/models/{model}/load reloads the model, with the batching fields of the
// "config" parameter (max_batch_size, dynamic_batching, the instance group's count)
// replacing the batcher's settings after reload_time (the old ones serve meanwhile); …/unload
// makes the model unavailable until the next load; POST /v2/repository/index lists it with
// its state. actuators/kube's batching actions work against the emulator as against Triton.
//
// # Model
//
// Model is the simulator's serving path for one pod (sim's CPU stage, dynamic batcher and
// instances), written as a discrete-event model that is advanced to a time and fed
// arrivals: a request enters when its body has been read and validated, spends
// cpu_per_request × b of CPU work in limited processor sharing of the pod's CPU limit among
// http_threads requests, waits in the batcher queue (max_batch_size, preferred sizes,
// max_queue_delay; requests are never split), and runs on one of instance_count instances
// for t(b) = max(t_min, t_fixed + t_per_image·b) times the scenario's jitter, the instances
// sharing the GPU. Jitter is drawn from the simulator's service stream for the seed. Fed the
// arrivals the simulator draws, it reproduces the simulator's one-pod results to within
// rounding (see the tests).
//
// Server runs the model in real time: its virtual clock is the monotonic time since the
// server started, an event loop advances it whenever the next event is due, and each answer
// leaves when the model has completed its request. Go's timers make answers late by up to
// about a millisecond; the model's state, and so every exported counter, is exact.
//
// # Metrics
//
// /metrics (Triton's port 8002 by default) exports, with Triton's names and labels (model,
// version; failures also reason): nv_inference_request_success, nv_inference_request_failure,
// nv_inference_count, nv_inference_exec_count, nv_inference_request_duration_us,
// nv_inference_queue_duration_us, nv_inference_compute_{input,infer,output}_duration_us
// (input and output are 0: the model has no separate copy stages), the gauge
// nv_inference_pending_request_count, and per GPU nv_gpu_utilization (refreshed every
// gpu_metrics_interval), nv_gpu_memory_used_bytes and nv_gpu_memory_total_bytes. Standing
// in for the pod's surroundings, as configured by exporters: DCGM-Exporter's
// DCGM_FI_DEV_GPU_UTIL (whole %), DCGM_FI_DEV_FB_USED and _FREE (MiB) with its labels (the
// node label spelled Hostname or hostname); cAdvisor's container_cpu_usage_seconds_total
// (the model's CPU stage) and container_memory_working_set_bytes; kube-state-metrics'
// kube_pod_container_resource_requests and _limits. The names and labels are
// serve/promnames', shared with the simulator's exporter (sim/promexport) and the load
// generator. Server also implements framework.Accounting: Cut returns the pod's ground
// truth over a window.
package serve
