package wasm

import "fmt"

// Policy is what a policy author implements.
//
// Init is called once per instance, before any other method, with the experiment's spec;
// returning an error refuses the spec (wrap ErrUnsupported for a spec the policy was not
// written for). Act is called once per decision: obs holds the observation (len(obs) ==
// len(spec.Features)), valid[i] is false when obs[i] is missing (obs[i] is then NaN: never
// use it as a number), and the policy writes exactly len(action) == spec.Action.Dim values
// into action. A discrete action is its integer index written as a float64. Every value
// must be finite and inside the action space, else the host reports the decision as failed
// and the runner's fallback acts instead.
//
// The slices alias the host's buffers: they are valid only during the call and must not be
// retained.
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

// registered is the module's policy; nil until Register.
var registered *dispatcher

// Register makes p the module's policy. Call it exactly once, from an init function of
// package main (a reactor module never runs main). It panics on a nil policy or a second
// call, both programming errors.
func Register(p Policy) {
	if p == nil {
		panic("sdk/wasm: Register(nil)")
	}
	if registered != nil {
		panic("sdk/wasm: Register called twice; a module holds one policy")
	}
	registered = newDispatcher(p)
}

// errNoPolicy is reported when the module never called Register.
var errNoPolicy = fmt.Errorf("%w: no policy registered: call wasm.Register from an init function of package main", ErrNotInitialized)

// dispatcher turns ABI calls into Policy method calls: it decodes the spec, checks buffer
// lengths against it, recovers panics and keeps the last error message for the host.
type dispatcher struct {
	p     Policy
	spec  Spec
	ready bool
	// lastErr is the message the error channel exposes; it stays allocated until the next
	// failure replaces it.
	lastErr []byte
}

func newDispatcher(p Policy) *dispatcher { return &dispatcher{p: p} }

// fail records err as the last error and returns its status code.
func (d *dispatcher) fail(err error) int32 {
	d.lastErr = []byte(err.Error())
	return status(err)
}

// guard runs f, turning a panic into an error.
func guard(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("%s panicked: %w", what, e)
			} else {
				err = fmt.Errorf("%s panicked: %v", what, r)
			}
		}
	}()
	return f()
}

// init decodes the spec and calls the policy's Init.
func (d *dispatcher) init(specJSON []byte) int32 {
	spec, err := ParseSpec(specJSON)
	if err != nil {
		return d.fail(err)
	}
	if err := guard("Init", func() error { return d.p.Init(spec) }); err != nil {
		d.ready = false
		return d.fail(err)
	}
	d.spec, d.ready = spec, true
	return StatusOK
}

// act checks the buffers against the spec and calls the policy's Act. On success it
// returns the number of action values written.
func (d *dispatcher) act(obs []float64, valid []bool, action []float64) int32 {
	if !d.ready {
		return d.fail(fmt.Errorf("%w: act before a successful init", ErrNotInitialized))
	}
	if len(obs) != len(d.spec.Features) || len(valid) != len(obs) {
		return d.fail(fmt.Errorf("%w: act got %d observation values and %d validity flags, the spec has %d features",
			ErrInvalidArgument, len(obs), len(valid), len(d.spec.Features)))
	}
	if len(action) != d.spec.Action.Dim {
		return d.fail(fmt.Errorf("%w: act got an action buffer of %d values, the spec's action dim is %d",
			ErrInvalidArgument, len(action), d.spec.Action.Dim))
	}
	if err := guard("Act", func() error { return d.p.Act(obs, valid, action) }); err != nil {
		return d.fail(err)
	}
	return int32(len(action))
}

// observe forwards a reward to an Observer; other policies ignore it.
func (d *dispatcher) observe(reward float64, done bool) int32 {
	if !d.ready {
		return d.fail(fmt.Errorf("%w: observe before a successful init", ErrNotInitialized))
	}
	o, ok := d.p.(Observer)
	if !ok {
		return StatusOK
	}
	if err := guard("Observe", func() error { return o.Observe(reward, done) }); err != nil {
		return d.fail(err)
	}
	return StatusOK
}

// reset forwards an episode start to a Resetter; other policies ignore it.
func (d *dispatcher) reset() int32 {
	if !d.ready {
		return d.fail(fmt.Errorf("%w: reset before a successful init", ErrNotInitialized))
	}
	r, ok := d.p.(Resetter)
	if !ok {
		return StatusOK
	}
	if err := guard("Reset", r.Reset); err != nil {
		return d.fail(err)
	}
	return StatusOK
}

// orphan answers the exports of a module that never called Register.
var orphan = &dispatcher{p: noPolicy{}}

// current returns the registered dispatcher, or orphan.
func current() *dispatcher {
	if registered != nil {
		return registered
	}
	return orphan
}

// noPolicy fails every call: the module never called Register.
type noPolicy struct{}

func (noPolicy) Init(Spec) error                        { return errNoPolicy }
func (noPolicy) Act([]float64, []bool, []float64) error { return errNoPolicy }

// errNegativeLength is reported when the host passes a negative buffer length.
var errNegativeLength = fmt.Errorf("%w: negative buffer length", ErrInvalidArgument)
