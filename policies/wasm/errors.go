package wasm

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the host returns wraps one of them, so callers can tell the
// cases apart with errors.Is; the messages name the module, the export and the numbers.
var (
	// ErrNotWasm: the module file is not a WebAssembly binary module.
	ErrNotWasm = errors.New("not a WebAssembly file")
	// ErrMissingExport: a required ABI export is absent.
	ErrMissingExport = errors.New("missing export")
	// ErrABIVersion: the module implements another ABI version.
	ErrABIVersion = errors.New("ABI version mismatch")
	// ErrBadModule: the module is WebAssembly but breaks the ABI in another way (wrong
	// export signature, imports the host does not provide, a WASI command instead of a
	// reactor, invalid code).
	ErrBadModule = errors.New("module does not follow the policy ABI")
	// ErrTrap: the guest trapped (unreachable, out-of-bounds access, division by zero...).
	ErrTrap = errors.New("trap")
	// ErrExit: the guest called proc_exit (a Go guest's unrecovered panic or fatal error).
	ErrExit = errors.New("guest exited")
	// ErrDeadline: a call did not return within its deadline; the host stopped it.
	ErrDeadline = errors.New("deadline exceeded")
	// ErrOutOfMemory: the guest ran out of its memory limit.
	ErrOutOfMemory = errors.New("out of memory")
	// ErrOutputLength: act wrote or reported a number of action values other than the
	// action space's dimension.
	ErrOutputLength = errors.New("wrong output length")
	// ErrNonFinite: act wrote a NaN or infinite action value.
	ErrNonFinite = errors.New("non-finite output")
	// ErrGuest: the guest returned an error status (see GuestError for the message).
	ErrGuest = errors.New("guest error")
	// ErrNotInitialized: Act was called before Init.
	ErrNotInitialized = errors.New("policy not initialized")
	// ErrDisabled: the guest failed max_failures times; the host no longer re-instantiates it.
	ErrDisabled = errors.New("wasm policy disabled after repeated failures")
	// ErrClosed: the policy was closed.
	ErrClosed = errors.New("wasm policy closed")
)

// GuestError is a negative status returned by a guest export, with the message the guest
// put in its error channel.
type GuestError struct {
	// Function is the export that failed.
	Function string
	// Status is the negative status code.
	Status int32
	// Message is the sanitised error-channel message ("" when the guest gave none).
	Message string
}

// Error implements error.
func (e *GuestError) Error() string {
	s := fmt.Sprintf("%s returned status %d (%s)", e.Function, e.Status, statusName(e.Status))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap makes errors.Is(err, ErrGuest) hold.
func (e *GuestError) Unwrap() error { return ErrGuest }
