package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// The host keeps one wazero runtime per compilation cache directory (and interruptibility:
// interruptible runtimes compile instrumented modules and provide their check function)
// for the life of the process, and one compiled module per file digest inside it:
// compiling a Go guest takes seconds, loading it from the on-disk cache a fraction of
// that, and instantiating a compiled module a few milliseconds. Policy instances (one per
// run) share the compiled module and each instantiate their own copy. Memory limits are
// per instance (see limitedMemory), so policies with different limits share the runtime
// too.

// engineKey identifies a shared runtime.
type engineKey struct {
	cacheDir      string
	interruptible bool
}

// engine is a shared wazero runtime with WASI and its compiled modules.
type engine struct {
	key engineKey
	rt  wazero.Runtime

	mu      sync.Mutex
	modules map[[sha256.Size]byte]*moduleEntry
}

// moduleEntry compiles a module once, however many goroutines ask for it.
type moduleEntry struct {
	once sync.Once
	mod  *Module
	err  error
}

var (
	enginesMu sync.Mutex
	engines   = map[engineKey]*engine{}
	caches    = map[string]wazero.CompilationCache{}
)

// getEngine returns the shared runtime for the key, creating it on first use.
func getEngine(key engineKey) (*engine, error) {
	enginesMu.Lock()
	defer enginesMu.Unlock()
	if e, ok := engines[key]; ok {
		return e, nil
	}
	cache, ok := caches[key.cacheDir]
	if !ok {
		if key.cacheDir == "" {
			cache = wazero.NewCompilationCache()
		} else {
			c, err := wazero.NewCompilationCacheWithDir(key.cacheDir)
			if err != nil {
				return nil, fmt.Errorf("cache_dir %q: %w", key.cacheDir, err)
			}
			cache = c
		}
		caches[key.cacheDir] = cache
	}
	ctx := context.Background()
	// Deadlines are enforced by instrumenting the modules (meter.go), not by wazero's
	// WithCloseOnContextDone, which leaves native code at every loop iteration.
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithCloseOnContextDone(false).
		WithCoreFeatures(api.CoreFeaturesV2)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	if key.interruptible {
		if err := instantiateMeter(ctx, rt); err != nil {
			_ = rt.Close(ctx)
			return nil, err
		}
	}
	e := &engine{key: key, rt: rt, modules: map[[sha256.Size]byte]*moduleEntry{}}
	engines[key] = e
	return e, nil
}

// Module is a compiled policy module that passed the ABI's static checks. It is shared by
// every policy built from the same file contents under the same limits, and never closed.
type Module struct {
	// Path is the file the module was first loaded from.
	Path string
	// Digest is the hex SHA-256 of the file's contents.
	Digest string
	// CompileTime is how long compilation (or loading from the on-disk cache) took.
	CompileTime time.Duration

	eng      *engine
	compiled wazero.CompiledModule
	// Optional exports present.
	hasError, hasObserve, hasReset, hasInitialize bool
	// minPages is the exported memory's initial size in 64 KiB pages.
	minPages uint32
}

// loadModule reads, checks and compiles the module at path, once per digest and engine.
func loadModule(ctx context.Context, path string, key engineKey) (*Module, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("module: %w", err)
	}
	if err := checkHeader(bin); err != nil {
		return nil, fmt.Errorf("module %s: %w", path, err)
	}
	eng, err := getEngine(key)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(bin)
	eng.mu.Lock()
	ent, ok := eng.modules[digest]
	if !ok {
		ent = &moduleEntry{}
		eng.modules[digest] = ent
	}
	eng.mu.Unlock()
	ent.once.Do(func() { ent.mod, ent.err = compile(ctx, eng, path, bin, digest) })
	if ent.err != nil {
		// Forget a failed compile (a canceled context, a full disk): the next load retries.
		eng.mu.Lock()
		if eng.modules[digest] == ent {
			delete(eng.modules, digest)
		}
		eng.mu.Unlock()
		return nil, ent.err
	}
	return ent.mod, nil
}

// compile compiles bin — instrumented with deadline checks when the engine is
// interruptible — and checks its exports and imports against the ABI.
func compile(ctx context.Context, eng *engine, path string, bin []byte, digest [sha256.Size]byte) (*Module, error) {
	start := time.Now()
	if eng.key.interruptible {
		metered, err := instrument(bin)
		if err != nil {
			if _, cerr := eng.rt.CompileModule(ctx, bin); cerr != nil {
				// Not valid WebAssembly in the first place: say that.
				return nil, fmt.Errorf("module %s: %w: invalid WebAssembly: %v", path, ErrBadModule, cerr)
			}
			return nil, fmt.Errorf("module %s: %w: %v (interruptible: false runs it without deadlines, for trusted modules only)", path, ErrBadModule, err)
		}
		bin = metered
	}
	cm, err := eng.rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w: invalid WebAssembly: %v", path, ErrBadModule, err)
	}
	m := &Module{Path: path, Digest: hex.EncodeToString(digest[:]), CompileTime: time.Since(start), eng: eng, compiled: cm}
	if err := m.check(); err != nil {
		_ = cm.Close(ctx)
		return nil, fmt.Errorf("module %s: %w", path, err)
	}
	return m, nil
}

// check verifies the ABI's static rules: required exports with the right signatures, a
// memory named "memory", only WASI imports, and a reactor rather than a command.
func (m *Module) check() error {
	fns := m.compiled.ExportedFunctions()
	for _, e := range abiExports {
		d, ok := fns[e.name]
		if !ok {
			if e.required {
				return fmt.Errorf("%w %s %s (ABI v%d, docs/policy-abi.md)", ErrMissingExport, e.name, e.sig, ABIVersion)
			}
			continue
		}
		if !e.sig.matches(d) {
			got := signature{d.ParamTypes(), d.ResultTypes()}
			return fmt.Errorf("%w: export %s has type %s, ABI v%d wants %s", ErrBadModule, e.name, got, ABIVersion, e.sig)
		}
	}
	_, m.hasError = fns[ExportError]
	_, m.hasObserve = fns[ExportObserve]
	_, m.hasReset = fns[ExportReset]
	_, m.hasInitialize = fns[ExportInitialize]
	mem, ok := m.compiled.ExportedMemories()[ExportMemory]
	if !ok {
		return fmt.Errorf("%w memory %q: the host exchanges buffers through the guest's exported linear memory", ErrMissingExport, ExportMemory)
	}
	m.minPages = mem.Min()
	if _, cmd := fns[ExportStart]; cmd && !m.hasInitialize {
		return fmt.Errorf("%w: the module is a WASI command (exports _start, no _initialize); build it as a reactor, e.g. GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared", ErrBadModule)
	}
	var foreign []string
	for _, d := range m.compiled.ImportedFunctions() {
		mod, name, _ := d.Import()
		if mod == meterModule && name == meterFunc && m.eng.key.interruptible {
			continue // added by instrument, which refuses modules importing it themselves
		}
		if mod != WASIModule {
			foreign = append(foreign, mod+"."+name)
		}
	}
	for _, d := range m.compiled.ImportedMemories() {
		mod, name, _ := d.Import()
		foreign = append(foreign, mod+"."+name+" (memory)")
	}
	if len(foreign) > 0 {
		sort.Strings(foreign)
		return fmt.Errorf("%w: imports %s, but the host provides only %s", ErrBadModule, strings.Join(foreign, ", "), WASIModule)
	}
	return nil
}

// checkLimit reports a module whose initial memory exceeds the limit.
func (m *Module) checkLimit(limitPages uint32) error {
	if m.minPages > limitPages {
		return fmt.Errorf("module %s: %w: its initial memory of %.1f MiB is larger than memory_limit_mb (%d MiB)",
			m.Path, ErrOutOfMemory, float64(m.minPages)/16, limitPages/16)
	}
	return nil
}

// checkHeader tells a WebAssembly binary module from everything else, naming what the file
// looks like instead.
func checkHeader(b []byte) error {
	if len(b) >= 4 && string(b[:4]) == "\x00asm" {
		if len(b) < 8 {
			return fmt.Errorf("%w: truncated header (%d bytes)", ErrNotWasm, len(b))
		}
		switch v := binary.LittleEndian.Uint32(b[4:8]); {
		case v == 1:
			return nil
		case bytes.Equal(b[4:8], []byte{0x0d, 0x00, 0x01, 0x00}):
			return fmt.Errorf("%w: a WebAssembly component (component model); ABI v%d needs a core module", ErrNotWasm, ABIVersion)
		default:
			return fmt.Errorf("%w: unsupported binary version %#x (want 1)", ErrNotWasm, v)
		}
	}
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	switch {
	case len(b) == 0:
		return fmt.Errorf("%w: the file is empty", ErrNotWasm)
	case bytes.HasPrefix(trimmed, []byte("(module")), bytes.HasPrefix(trimmed, []byte(";;")):
		return fmt.Errorf("%w: it looks like WebAssembly text (.wat); assemble it into a binary first (e.g. wat2wasm)", ErrNotWasm)
	case bytes.HasPrefix(b, []byte("\x7fELF")), bytes.HasPrefix(b, []byte("MZ")), bytes.HasPrefix(b, []byte("\xcf\xfa\xed\xfe")):
		return fmt.Errorf("%w: it is a native executable (type: plugin runs those)", ErrNotWasm)
	}
	head := b
	if len(head) > 8 {
		head = head[:8]
	}
	return fmt.Errorf("%w: it starts with %q, a WebAssembly module starts with \"\\x00asm\"", ErrNotWasm, head)
}
