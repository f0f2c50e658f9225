// Package loadgen is scalelab's open-loop load generator (`scalelab loadgen`): KServe v2
// inference requests sent at the arrival times of a framework/load Load — the very profile
// definitions and arrival processes the simulator draws from — with vegeta doing the HTTP
// work, and client-side latency and QoS recorded in the framework's KPI format and as
// Prometheus metrics.
//
// Pacer is a vegeta.Pacer over a load.Source seeded as the simulator seeds an episode's
// arrivals (StreamArrivals), so a real run and a simulated run with the same seed offer
// the identical arrival sequence. Sending is open loop: a request never waits for an
// earlier one's answer; when sending falls behind (max_workers, a busy machine) the late
// requests leave at once and the lag is reported (Summary.LagP50/P99/Max).
//
// Payloads (BuildPayload): a synthetic deterministic picture per image, sent as an FP32
// tensor normalised as timm's ImageNet models expect (3×224×224 = 602,112 bytes), a UINT8
// tensor of the raw pixels, or the encoded image file (JPEG or PNG) as BYTES; NCHW or NHWC;
// inline JSON data or Triton's binary tensor extension; b images per request.
//
// Recorder classifies each answer as the simulator's accounting does — completed (an SLO
// violation when slower than the SLO), dropped (client timeout, 429/503, connection refused
// or reset: the request was not served) or failed (any other error) — and keeps windows of
// framework.Totals with a latency histogram, cut like a backend's Accounting, and the run's
// KPIs computed by framework.KPIAccumulator. Metrics (see Metrics) include the latency
// histogram scalelab_loadgen_request_duration_seconds, the default source of the
// p50/p95/p99_latency_ms features, and the counters behind request_rate and
// qos_violation_rate.
package loadgen
