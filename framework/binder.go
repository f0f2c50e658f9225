package framework

// PolicyBinder is implemented by actuators whose behaviour depends on the policy they
// serve; the runner calls BindPolicy once the loop's policy is built, before the first
// episode. On a real cluster the HPA baseline is the cluster's own HPA controller: the
// Kubernetes actuator applies the policy's HPA spec and stands back from replicas, and
// the loop records the policy's own recommendations alongside.
type PolicyBinder interface {
	BindPolicy(p Policy) error
}
