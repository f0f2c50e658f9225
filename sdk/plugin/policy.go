package plugin

// Policy is what a policy author implements. It has the same shape as the WASM guest SDK's
// Policy, so one policy type can be served both ways.
//
// Init is called once per process, before any other method, with the experiment's spec
// (again in a fresh process after every restart); returning an error refuses the spec (wrap
// ErrUnsupported for a spec the policy was not written for). Act is called once per
// decision: obs holds the observation (len(obs) == len(spec.Features)), valid[i] is false
// when obs[i] is missing (obs[i] is then NaN: never use it as a number), and the policy
// writes exactly len(action) == spec.Action.Dim values into action. The action buffer is
// filled with NaN before the call, so a value the policy forgets to write is caught by the
// host. A discrete action is its integer index written as a float64. Every value must be
// finite and inside the action space, else the host reports the decision as failed and the
// runner's fallback acts instead.
//
// Calls are serialised: the SDK never calls two methods at once. The slices are valid only
// during the call and must not be retained.
type Policy interface {
	Init(spec Spec) error
	Act(obs []float64, valid []bool, action []float64) error
}

// Observer is implemented by online learners: Observe is called after each step whose
// action came from the policy, with the step's reward; done is true when the episode ended.
type Observer interface {
	Observe(reward float64, done bool) error
}

// Resetter is implemented by policies with per-episode state: Reset is called at the start
// of every episode, before its first Act.
type Resetter interface {
	Reset() error
}

// Closer is implemented by policies that hold resources (files, models, connections):
// Close is called once when the host is done with the plugin, just before the process is
// stopped. It is not called when the host kills a failed plugin.
type Closer interface {
	Close() error
}
