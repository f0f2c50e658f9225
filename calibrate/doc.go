// Package calibrate fits the simulator's service model to an inference server
// (`scalelab calibrate`), so that simulated studies can run on the user's own measurements
// instead of the estimated defaults of the built-in scenarios.
//
// Run measures a KServe v2 endpoint exposing Triton's metrics. The GPU sweep sends, for
// each batch size b, requests of b images one at a time and reads each request's compute
// time from the change of nv_inference_compute_infer_duration_us across it (a sample counts
// only if exactly one execution of exactly that request happened). FitService fits
// t(b) = max(t_min, t_fixed + t_per_image·b) by weighted least squares (weights 1/t(b)²,
// as the jitter is multiplicative), keeping the floor t_min only when an F test says it
// explains the data significantly better than the line, and estimates the lognormal jitter's
// CV from the samples' spread around the fit. The CPU sweep offers open-loop load at each
// rate and regresses the pod's CPU seconds (a cAdvisor-style counter, or a PromQL query
// evaluated on a sample scraped after each step's boundary, while the pod is idle) on the
// images served: the slope is cpu_per_request, the intercept idle use (FitCPU).
//
// FromPerfAnalyzer fits t(b) from Triton perf_analyzer CSV files instead (one per batch
// size), with a jitter estimate from their latency percentiles.
//
// Result.WriteScenario writes a scenario YAML over a built-in base scenario holding the
// fitted model keys, with the residuals of both fits as comments; sim.LoadScenario loads it.
// The tests calibrate against `scalelab serve` with known parameters and recover them
// within 5 %, the CPU cost also through a real Prometheus scraping the emulator.
package calibrate
