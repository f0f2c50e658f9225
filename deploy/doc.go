// Package deploy holds scalelab's real edge stack for a workstation (Ubuntu 24.04, an NVIDIA
// GPU with its host driver): install.sh and up.sh, the nvkind cluster template, Helm values
// (GPU Operator with time-slicing, metrics-server, kube-prometheus-stack,
// prometheus-adapter), Triton serving MobileNetV4 with its model repository, the load
// generator Job, the agent's Deployment, ServiceAccount and RBAC, and a Grafana dashboard.
// docs/real-cluster.md walks through them.
//
// The package has no code: its tests decode every manifest strictly into k8s.io/api types,
// check values files for the keys the charts read, and check that the pieces agree with
// each other and with scalelab (names, ports, labels, the HPA spec, the RBAC grants the
// agent needs and no more, the metrics the dashboard plots).
package deploy
