package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/scalelab/scalelab/framework"
)

// resolved renders the resolved config as plain values (see Loaded.Resolved).
func (l *loader) resolved(cfg *framework.Config) map[string]any {
	res, _ := encodeValue(reflect.ValueOf(cfg)).(map[string]any)
	if cfg.Action.Type == "" && len(cfg.Action.Params) == 0 {
		delete(res, "action")
	}
	if cfg.Train.Type == "" && len(cfg.Train.Params) == 0 {
		delete(res, "train")
	}
	// Raw keys are not config struct fields: put them back where the file had them.
	for _, path := range sortedKeys(l.raw) {
		for _, k := range sortedKeys(l.raw[path]) {
			setPath(res, strings.Split(path, "."), k, l.raw[path][k])
		}
	}
	return res
}

// setPath sets m[segs...][key] = v, creating mappings on the way.
func setPath(m map[string]any, segs []string, key string, v any) {
	for _, s := range segs {
		next, ok := m[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[s] = next
		}
		m = next
	}
	m[key] = v
}

// digestFiles reads every referenced file and returns its digest, sorted by Path.
func (l *loader) digestFiles() []FileDigest {
	var out []FileDigest
	for _, abs := range l.referencedFiles() {
		sum, err := fileSHA256(abs)
		if err != nil {
			l.ps.add(l.files[abs], "references %s, which cannot be read: %v", abs, unwrapPathError(err))
			continue
		}
		rel, err := filepath.Rel(l.baseDir, abs)
		if err != nil {
			rel = abs
		}
		out = append(out, FileDigest{Path: filepath.ToSlash(rel), Abs: abs, SHA256: sum})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// canonicalJSON encodes v with sorted map keys, no indentation, no HTML escaping and no
// trailing newline.
func canonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// hashOf computes Loaded.Hash (see its documentation).
func hashOf(resolved map[string]any, files []FileDigest) (string, error) {
	return HashOf(resolved, files, []string{"experiment.out", "experiment.workers"})
}

// HashOf hashes a resolved config as Loaded.Hash does, leaving out the given dotted key
// paths (keys that cannot change results, such as where they are written). The resolved
// map is not modified.
func HashOf(resolved map[string]any, files []FileDigest, omit []string) (string, error) {
	canon, err := canonicalJSON(omitPaths(resolved, omit))
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(canon)
	for _, f := range files {
		fmt.Fprintf(h, "\n%s %s", f.Path, f.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CanonicalJSON returns the canonical JSON of Resolved that Hash covers.
func (l *Loaded) CanonicalJSON() ([]byte, error) { return canonicalJSON(l.Resolved) }

// ResolvedYAML renders Resolved as YAML (keys sorted) under a comment naming the source
// file and the hash.
func (l *Loaded) ResolvedYAML() ([]byte, error) {
	body, err := sigsyaml.Marshal(l.Resolved)
	if err != nil {
		return nil, fmt.Errorf("render resolved config of %s: %w", l.File, err)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Resolved scalelab config: defaults filled, overrides applied.\n")
	fmt.Fprintf(&buf, "# source: %s\n# hash: %s\n", filepath.ToSlash(l.File), l.Hash)
	for _, f := range l.Files {
		fmt.Fprintf(&buf, "# file: %s sha256:%s\n", f.Path, f.SHA256)
	}
	buf.Write(body)
	return buf.Bytes(), nil
}

// WriteResolved writes the resolved config as YAML to path atomically: it writes a
// temporary file in the same directory, syncs it and renames it over path, so readers see
// either the old file or the whole new one. Relative file references in the resolved
// config are relative to BaseDir; write it next to the original (or reload it with the
// same base) for them to resolve.
func (l *Loaded) WriteResolved(path string) error {
	data, err := l.ResolvedYAML()
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

// writeAtomic writes data to path through a temporary file and a rename.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// omitPaths returns a copy of m without the dotted key paths (only the maps along a path
// are copied).
func omitPaths(m map[string]any, paths []string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, p := range paths {
		parts := strings.Split(p, ".")
		cur := out
		for i, part := range parts {
			if i == len(parts)-1 {
				delete(cur, part)
				break
			}
			sub, ok := cur[part].(map[string]any)
			if !ok {
				break
			}
			cp := make(map[string]any, len(sub))
			for k, v := range sub {
				cp[k] = v
			}
			cur[part] = cp
			cur = cp
		}
	}
	return out
}
