// Package sim is the native collector of the embedded simulator (backend type "sim"): it
// reads the state design's catalogue features from a *sim.Sim as a real metrics pipeline
// would show them — each feature from its source (Triton and load-generator counters,
// DCGM-Exporter, cAdvisor, the Kubernetes API) with that source's export and scrape lag,
// over the state window W — and the structured cluster view with per-pod metrics-server
// samples. A feature without data (a latency quantile over a window without completions,
// a value older than the state's max_age) is reported invalid and NaN, never 0.
//
// Register adds the collector factory (type "sim"); cmd/scalelab calls it.
package sim
