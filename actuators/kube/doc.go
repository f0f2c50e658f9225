// Package kube is the kubernetes backend's actuator (type "kubernetes"): it carries out the
// framework's commands on a real workload with client-go.
//
//   - Replicas: the scale subresource of the Deployment or StatefulSet (Get, then Update
//     with the resourceVersion read, retried on conflict). When a HorizontalPodAutoscaler
//     targets the workload the actuator refuses with ErrHPAConflict — two controllers
//     writing one scale fight — unless backend.manage_hpa is set; it then pins that HPA
//     (minReplicas = maxReplicas) so both agree.
//   - HPA target: autoscaling/v2 JSON merge patches of the CPU utilisation target and the
//     bounds (the HPA is created, labelled as scalelab's, when none exists); needs
//     manage_hpa.
//   - The HPA baseline: on a real cluster the baseline is the cluster's own HPA controller.
//     BindPolicy (framework.PolicyBinder) recognises a policy carrying an
//     autoscaling/v2 spec (policies/hpa); the actuator applies that spec at the start of
//     every episode and stands back: the policy's replica recommendations are recorded,
//     not applied.
//   - CPU request: in-place resize through pods/resize (cpu_resize: in_place, Kubernetes ≥
//     1.33), a pod-template patch (rolling), or ErrSimulationOnly (none).
//   - Batching: Triton's model-control API reloads the model with the new dynamic-batching
//     settings on every server (triton.model set), else ErrSimulationOnly.
//
// Every write is sent with server-side dry run when backend.dry_run is set: the API
// server validates and admits it but persists nothing, and Applied.DryRun says so.
package kube
