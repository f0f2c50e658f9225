// Package gobuild builds Go guest policies (main packages using sdk/wasm) into WebAssembly
// modules with the Go toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o policy.wasm .
//
// It is used by the tests (which build the examples and adversarial guests instead of
// committing .wasm files) and by `scalelab export wasm`. Building needs the go command of
// Go 1.24 or newer (//go:wasmexport); when it is missing, every function returns an error
// wrapping ErrNoToolchain that says so.
package gobuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ErrNoToolchain means no usable go command was found.
var ErrNoToolchain = errors.New("building a WASM policy needs the Go toolchain (go 1.24 or newer, https://go.dev/dl) on PATH or in $GOROOT/bin")

// Flags are the build flags every module is built with (after `go build`).
var Flags = []string{"-buildmode=c-shared", "-trimpath", "-buildvcs=false"}

// env is the build environment: the caller's, targeting wasip1/wasm without cgo.
func env() []string {
	return append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
}

// Toolchain returns the path of the go command and its version (e.g. "go1.26.8"), or an
// error wrapping ErrNoToolchain when it is missing or older than Go 1.24.
func Toolchain(ctx context.Context) (path, version string, err error) {
	path, err = exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			cand := filepath.Join(root, "bin", "go")
			if _, serr := os.Stat(cand); serr == nil {
				path, err = cand, nil
			}
		}
	}
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrNoToolchain, err)
	}
	out, err := exec.CommandContext(ctx, path, "env", "GOVERSION").Output()
	if err != nil {
		return "", "", fmt.Errorf("%w: %s env GOVERSION: %v", ErrNoToolchain, path, err)
	}
	version = strings.TrimSpace(string(out))
	if !atLeast(version, 1, 24) {
		return "", "", fmt.Errorf("%w: %s is %s", ErrNoToolchain, path, version)
	}
	return path, version, nil
}

var goVersionRE = regexp.MustCompile(`^go(\d+)\.(\d+)`)

// atLeast reports whether a GOVERSION string is at least major.minor; development
// versions ("devel ...") count as new enough.
func atLeast(v string, major, minor int) bool {
	if strings.HasPrefix(v, "devel") {
		return true
	}
	m := goVersionRE.FindStringSubmatch(v)
	if m == nil {
		return false
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	return a > major || (a == major && b >= minor)
}

// Build compiles the main package in dir into the module out. The file appears
// atomically: a failed build leaves no partial out.
func Build(ctx context.Context, dir, out string) error {
	goBin, _, err := Toolchain(ctx)
	if err != nil {
		return err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(absOut), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(absOut), "."+filepath.Base(absOut)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)
	args := append(append([]string{"build"}, Flags...), "-o", tmpName, ".")
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = env()
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: GOOS=wasip1 GOARCH=wasm go %s: %w\n%s", dir, strings.Join(args, " "), err, strings.TrimSpace(output.String()))
	}
	if err := os.Rename(tmpName, absOut); err != nil {
		return fmt.Errorf("build %s: %w", dir, err)
	}
	return nil
}

// listed is the part of `go list -json` output Key uses.
type listed struct {
	ImportPath string
	Dir        string
	Standard   bool
	GoFiles    []string
	EmbedFiles []string
	Error      *struct{ Err string }
}

// Key is the content key of a build of the main package in dir: SHA-256 over the Go
// version, the build flags, and the name and contents of every Go and embedded file of
// the package and its non-standard-library dependencies, for GOOS=wasip1 GOARCH=wasm.
func Key(ctx context.Context, dir string) (string, error) {
	goBin, version, err := Toolchain(ctx)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, goBin, "list", "-deps", "-json=ImportPath,Dir,Standard,GoFiles,EmbedFiles,Error", ".")
	cmd.Dir = dir
	cmd.Env = env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list %s: %w\n%s", dir, err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return "", fmt.Errorf("go list %s: %w", dir, err)
		}
		if p.Error != nil {
			return "", fmt.Errorf("go list %s: package %s: %s", dir, p.ImportPath, p.Error.Err)
		}
		if !p.Standard {
			pkgs = append(pkgs, p)
		}
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].ImportPath < pkgs[j].ImportPath })
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", version, strings.Join(Flags, " "))
	for _, p := range pkgs {
		files := append(append([]string(nil), p.GoFiles...), p.EmbedFiles...)
		sort.Strings(files)
		fmt.Fprintf(h, "package %s\n", p.ImportPath)
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				return "", err
			}
			sum := sha256.Sum256(b)
			fmt.Fprintf(h, "%s %x\n", f, sum)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Cached builds the main package in dir into cacheDir/<base>-<key>.wasm unless that file
// already exists, and returns its path. base is the directory's name; key is Key(dir).
// Concurrent callers (parallel test packages) are safe: each build is renamed into place
// atomically.
func Cached(ctx context.Context, dir, cacheDir string) (string, error) {
	key, err := Key(ctx, dir)
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	out := filepath.Join(cacheDir, filepath.Base(abs)+"-"+key[:16]+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := Build(ctx, dir, out); err != nil {
		return "", err
	}
	return out, nil
}

// DefaultCacheDir is <user cache dir>/scalelab/guests, or a directory under the system
// temporary directory when the user has no cache directory.
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "scalelab", "guests")
	}
	return filepath.Join(os.TempDir(), "scalelab-guests")
}
