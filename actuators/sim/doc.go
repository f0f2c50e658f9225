// Package sim is the embedded simulator's actuator (backend type "sim"): it carries out
// framework.Commands on a *sim.Sim — desired replicas (the Deployment's scale), batching
// settings (a model-config change each pod applies after a model reload), the pod CPU
// request (a rolling update of the Deployment) and an HPA target utilisation.
//
// For an HPA target the actuator runs the Kubernetes HPA itself, as the cluster's
// kube-controller-manager would: every 15 s of virtual time it reads the pods and their
// metrics-server CPU samples from the simulator's cluster view and runs
// policies/hpa/algorithm's Controller (CPU utilisation at the commanded target, the
// workload's min and max replicas, default behavior), setting the replicas it returns. Its
// history (downscale stabilisation) restarts with every episode.
//
// Register adds the actuator factory (type "sim"); cmd/scalelab calls it.
package sim
