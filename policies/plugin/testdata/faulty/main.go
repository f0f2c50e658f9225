// Command faulty is the test plugin of policies/plugin: the plugin-target example's policy
// (target tracking) served with the SDK's handshake and gRPC glue, plus faults injected on
// demand, so the host's tests can make a plugin crash, hang, answer garbage or the wrong
// number of values, panic, refuse its spec or fail to start.
//
//	faulty -fault=hang -at=5 -once=/tmp/x   # hang in the 5th Act call, only the first time
//
// Faults (-fault): hang (never answer), exit (the process exits inside Act), wrong-length
// (one action value too many), garbage (an answer that is not an ActResponse), nan (a NaN
// action), error (an error answer), panic (the policy panics inside Act), and at start:
// refuse-init (Init refuses the spec), exit-at-start (exit before the handshake),
// bad-handshake (print garbage instead of the handshake line). -at is the 1-based Act call
// (of this process) the fault fires at; without -once it fires in every process, with -once
// it fires only while the named file does not exist and creates it.
//
// -slow-after-fault=D makes the first Act of a process started after the -once fault fired
// take D (a restarted plugin that is slow to warm up).
//
// -record=FILE appends one line per Init, Observe, Reset and Close call, so tests can see
// what the host forwarded.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/scalelab/scalelab/sdk/examples/plugin-target/target"
	sdk "github.com/scalelab/scalelab/sdk/plugin"
	policyv1 "github.com/scalelab/scalelab/sdk/proto/policy/v1"
)

var (
	fault  = flag.String("fault", "", "fault to inject")
	at     = flag.Int("at", 1, "1-based Act call at which the fault fires")
	once   = flag.String("once", "", "fire only while this file does not exist, then create it")
	record = flag.String("record", "", "append Init/Observe/Reset/Close calls to this file")
	slow   = flag.Duration("slow-after-fault", 0, "in a process started after the -once fault fired, the first Act takes this long")
	feat   = flag.String("feature", "replicas_desired", "tracked feature")
	tgt    = flag.Float64("target", 1, "target value")
)

var calls atomic.Int64

// slowStart is set at start-up when -slow-after-fault applies to this process.
var slowStart bool

// fire reports whether the fault fires at Act call n.
func fire(n int64) bool {
	if n != int64(*at) {
		return false
	}
	if *once != "" {
		f, err := os.OpenFile(*once, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return false // already fired in an earlier process
		}
		_ = f.Close()
	}
	return true
}

func note(format string, args ...any) {
	if *record == "" {
		return
	}
	f, err := os.OpenFile(*record, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

// policy wraps the target policy with the faults that happen inside the policy, and
// records the calls the host forwards.
type policy struct {
	inner *target.Policy
	n     int64
}

func (p *policy) Init(s sdk.Spec) error {
	note("init %s %d %s", s.ActionDesign, len(s.Features), s.PolicyName)
	if *fault == "refuse-init" {
		return sdk.Unsupported("this plugin refuses every spec")
	}
	return p.inner.Init(s)
}

func (p *policy) Act(obs []float64, valid []bool, action []float64) error {
	p.n++
	if *fault == "panic" && fire(p.n) {
		panic("injected panic")
	}
	if *fault == "error" && fire(p.n) {
		return fmt.Errorf("injected error at call %d", p.n)
	}
	return p.inner.Act(obs, valid, action)
}

func (p *policy) Observe(reward float64, done bool) error {
	note("observe %g %t", reward, done)
	return nil
}

func (p *policy) Reset() error {
	note("reset")
	return nil
}

func (p *policy) Close() error {
	note("close")
	return nil
}

// transportFaults intercepts Act at the gRPC level: faults the SDK would never produce.
func transportFaults(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if info.FullMethod != policyv1.Policy_Act_FullMethodName {
		return h(ctx, req)
	}
	n := calls.Add(1)
	if n == 1 && slowStart {
		time.Sleep(*slow)
	}
	switch *fault {
	case "hang", "exit", "garbage", "wrong-length", "nan":
	default:
		return h(ctx, req)
	}
	if !fire(n) {
		return h(ctx, req)
	}
	switch *fault {
	case "hang":
		time.Sleep(time.Hour)
		return nil, status.Error(codes.Internal, "unreachable")
	case "exit":
		os.Exit(7)
	case "garbage":
		// Field 1 with 3 bytes: as ActResponse it is a packed double list of 3 bytes.
		return wrapperspb.Bytes([]byte{1, 2, 3}), nil
	}
	resp, err := h(ctx, req)
	if err != nil {
		return resp, err
	}
	r := resp.(*policyv1.ActResponse)
	switch *fault {
	case "wrong-length":
		r.Action = append(r.Action, 0)
	case "nan":
		r.Action[0] = math.NaN()
	}
	return r, nil
}

func main() {
	flag.Parse()
	switch *fault {
	case "exit-at-start":
		fmt.Fprintln(os.Stderr, "faulty: exiting before the handshake")
		os.Exit(4)
	case "bad-handshake":
		fmt.Println("this is not a go-plugin handshake line")
		time.Sleep(100 * time.Millisecond)
		os.Exit(0)
	}
	if *slow > 0 && *once != "" {
		if _, err := os.Stat(*once); err == nil {
			slowStart = true
		}
	}
	c := target.Config{Feature: *feat, Target: *tgt, Tolerance: 0}
	p := &policy{inner: target.New(c)}
	// Fault injection on the transport is reset per process; the policy counts the same calls.
	sdk.Logger().Info("faulty plugin starting", "fault", *fault, "at", *at)
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: sdk.Handshake,
		Plugins:         sdk.PluginSet(p),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.UnaryInterceptor(transportFaults))...)
		},
	})
}
