// Package kube is the kubernetes backend's collector (type "kubernetes"): it observes a
// real workload through the Kubernetes API — the replica counts (replicas_desired,
// replicas_ready, replicas_pending, exact and fresh) and the structured cluster view
// (framework.ClusterView: each pod's phase, Ready condition and its transition time,
// start time, deletion, requests, and metrics-server's CPU and memory samples; the CPU
// target of the HPA that drives the workload; Triton's batching settings) — from the
// backend's informer caches, and composes a FeatureSource for every other catalogue
// feature: by default collectors/prometheus's PromQL source, configured by the backend's
// prometheus section. A feature the source cannot give is missing (NaN, not valid), never
// zero; a source that fails leaves its features missing for that observation and is
// logged.
package kube
