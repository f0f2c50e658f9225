package plugin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	policyv1 "github.com/scalelab/scalelab/sdk/proto/policy/v1"
)

// server adapts a Policy to the gRPC service: it decodes the spec, checks buffer lengths
// against it, serialises calls, recovers panics and maps errors to status codes.
type server struct {
	policyv1.UnimplementedPolicyServer

	mu    sync.Mutex
	p     Policy
	spec  Spec
	ready bool
	// closed is set by Close: Closer.Close runs once.
	closed bool
	// poisoned is set after a panic: the policy's state is no longer trustworthy, so every
	// later call is refused with Aborted until the host restarts the process.
	poisoned error
}

// NewServer returns the gRPC service implementation serving p. Serve uses it; it is
// exported for hosts and tests that serve a policy on their own gRPC server.
func NewServer(p Policy) policyv1.PolicyServer {
	if p == nil {
		panic("sdk/plugin: NewServer(nil)")
	}
	return &server{p: p}
}

// code maps a policy error to its status code (docs/policy-abi.md, error semantics).
func code(err error) codes.Code {
	switch {
	case errors.Is(err, ErrInvalidArgument):
		return codes.InvalidArgument
	case errors.Is(err, ErrUnsupported):
		return codes.Unimplemented
	case errors.Is(err, ErrNotInitialized):
		return codes.FailedPrecondition
	default:
		return codes.Unknown
	}
}

// call runs a policy method with the panic guard. A panic poisons the server and is
// reported as Aborted, which makes the host restart the plugin.
func (s *server) call(what string, f func() error) (err error) {
	if s.poisoned != nil {
		return status.Errorf(codes.Aborted, "%s refused: %v", what, s.poisoned)
	}
	defer func() {
		if r := recover(); r != nil {
			s.poisoned = fmt.Errorf("%s panicked: %v", what, r)
			Logger().Error("policy panicked; the host will restart the plugin", "method", what, "panic", fmt.Sprint(r),
				"stack", string(debug.Stack()))
			err = status.Error(codes.Aborted, s.poisoned.Error())
		}
	}()
	if err := f(); err != nil {
		return status.Errorf(code(err), "%s: %v", what, err)
	}
	return nil
}

// Init decodes the spec and calls the policy's Init.
func (s *server) Init(_ context.Context, r *policyv1.InitRequest) (*policyv1.InitResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, status.Error(codes.FailedPrecondition, "Init after Close")
	}
	spec, err := SpecFromProto(r)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.ready = false
	if err := s.call("Init", func() error { return s.p.Init(spec) }); err != nil {
		return nil, err
	}
	s.spec, s.ready = spec, true
	_, obs := s.p.(Observer)
	_, res := s.p.(Resetter)
	return &policyv1.InitResponse{WantsObserve: obs, WantsReset: res, Name: filepath.Base(os.Args[0])}, nil
}

// Act checks the observation against the spec and calls the policy's Act.
func (s *server) Act(_ context.Context, r *policyv1.ActRequest) (*policyv1.ActResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		return nil, status.Error(codes.FailedPrecondition, "Act before a successful Init")
	}
	obs, valid := r.GetValues(), r.GetValid()
	if len(obs) != len(s.spec.Features) || len(valid) != len(obs) {
		return nil, status.Errorf(codes.InvalidArgument, "Act got %d observation values and %d validity flags, the spec has %d features",
			len(obs), len(valid), len(s.spec.Features))
	}
	action := make([]float64, s.spec.Action.Dim)
	for i := range action {
		action[i] = math.NaN()
	}
	if err := s.call("Act", func() error { return s.p.Act(obs, valid, action) }); err != nil {
		return nil, err
	}
	return &policyv1.ActResponse{Action: action}, nil
}

// Observe forwards a reward to an Observer; other policies ignore it.
func (s *server) Observe(_ context.Context, r *policyv1.ObserveRequest) (*policyv1.ObserveResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		return nil, status.Error(codes.FailedPrecondition, "Observe before a successful Init")
	}
	if o, ok := s.p.(Observer); ok {
		if err := s.call("Observe", func() error { return o.Observe(r.GetReward(), r.GetDone()) }); err != nil {
			return nil, err
		}
	}
	return &policyv1.ObserveResponse{}, nil
}

// Reset forwards an episode start to a Resetter; other policies ignore it.
func (s *server) Reset(context.Context, *policyv1.ResetRequest) (*policyv1.ResetResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		return nil, status.Error(codes.FailedPrecondition, "Reset before a successful Init")
	}
	if rs, ok := s.p.(Resetter); ok {
		if err := s.call("Reset", rs.Reset); err != nil {
			return nil, err
		}
	}
	return &policyv1.ResetResponse{}, nil
}

// Close forwards to a Closer (once); other policies ignore it. Later Act, Observe and Reset
// calls fail with FailedPrecondition.
func (s *server) Close(context.Context, *policyv1.CloseRequest) (*policyv1.CloseResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready = false
	if s.closed {
		return &policyv1.CloseResponse{}, nil
	}
	s.closed = true
	if c, ok := s.p.(Closer); ok {
		if err := s.call("Close", c.Close); err != nil {
			return nil, err
		}
	}
	return &policyv1.CloseResponse{}, nil
}
