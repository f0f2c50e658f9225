// Package hpa is scalelab's Kubernetes HorizontalPodAutoscaler baseline: the policy type
// "hpa", which runs the faithful port of kube-controller-manager's HPA in the leaf package
// policies/hpa/algorithm on its own sync period (15 s by default).
//
// Configuration. The key `spec` holds a HorizontalPodAutoscalerSpec exactly as written in a
// cluster manifest (camelCase, quantities such as "500m"), so a spec can be copied from
// `kubectl get hpa -o yaml`. It is decoded strictly (unknown fields are errors), defaulted
// as the API server defaults it (no metrics → CPU at 80 % average utilisation; a present
// behavior is completed with the default scale-up and scale-down rules), and validated with
// the API server's rules and wording, plus two scalelab rules: minReplicas and maxReplicas
// must lie within the scenario's workload bounds, and ContainerResource metrics are
// rejected (the pod view has no per-container data). scaleTargetRef may be omitted: it then
// refers to the scenario's workload; if given, it is validated but otherwise unused. A
// policy without `spec` is the default HPA between the workload's bounds. The other keys
// (snake_case) are the controller's flags: sync_period, tolerance,
// cpu_initialization_period, initial_readiness_delay, downscale_stabilization.
//
//	policies:
//	  hpa:
//	    type: hpa
//	    spec:
//	      minReplicas: 1
//	      maxReplicas: 4
//	      metrics:
//	      - type: Resource
//	        resource:
//	          name: cpu
//	          target: {type: Utilization, averageUtilization: 60}
//
// Observation. Act reads only obs.Cluster (see InputFromView): pods with phase, readiness
// and its transition time, start time, deletion flag and requests; per-pod samples
// Metrics["cpu"] (millicores, with the metrics-server timestamp and window),
// Metrics["memory"] (bytes) and any other name for Pods metrics; ClusterView.Metrics by name
// for Object and External metrics. A metric the view lacks fails as it would upstream (a
// failing metric blocks a scale-down, and the HPA holds when every metric fails); that is
// not an error of the policy, and LastStatus reports it with the HPA status (current
// metrics, conditions such as ScalingLimited).
//
// On a real cluster the baseline is the cluster's own HPA controller with this spec; a
// policy that runs this algorithm through the scale subresource ("hpa-emulated") belongs to
// the real-cluster work and is not registered here.
package hpa
