package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a config: the key path it concerns (empty for problems
// with the file as a whole) and what is wrong, including what was expected.
type Problem struct {
	Key string
	Msg string
}

// String renders the problem as "key: msg" (or just msg without a key).
func (p Problem) String() string {
	if p.Key == "" {
		return p.Msg
	}
	return p.Key + ": " + p.Msg
}

// Error is every problem found in one config, reported at once.
type Error struct {
	// File is the config file as named by the caller.
	File string
	// Problems are sorted by key, then message.
	Problems []Problem
}

// Error lists the problems, one "FILE: key: msg" line each.
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		b.WriteString(": ")
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects problems during one load.
type problems struct {
	list []Problem
	// origins maps a key path set by an override to where it came from ("--set x=y",
	// "environment SCALELAB_X"); problems at or under that path mention it.
	origins map[string]string
	// inFile reports whether a key path exists in the file; a problem at a key the file
	// lacks was created by an override below it, which the problem then mentions.
	inFile func(key string) bool
}

func (ps *problems) add(key, format string, args ...any) {
	ps.list = append(ps.list, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// addErr records an error returned by a component (Validate, Check, load.FromConfig).
// Such errors conventionally start with the key they concern ("max_step: must be ≥ 0");
// that key is joined to prefix so the problem names the full path.
func (ps *problems) addErr(prefix string, err error) {
	key, msg := splitKey(err.Error())
	ps.list = append(ps.list, Problem{Key: joinKey(prefix, key), Msg: msg})
}

// splitKey splits "key.path: message" into its key and message when the text before the
// first ": " looks like a key path (no spaces); otherwise the key is empty.
func splitKey(s string) (key, msg string) {
	i := strings.Index(s, ": ")
	if i <= 0 {
		return "", s
	}
	k := s[:i]
	if strings.ContainsAny(k, " \t\"'`") {
		return "", s
	}
	return k, s[i+2:]
}

func joinKey(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "":
		return prefix
	case strings.HasPrefix(key, "["):
		return prefix + key
	default:
		return prefix + "." + key
	}
}

// finish returns nil when there are no problems, else the sorted *Error.
func (ps *problems) finish(file string) error {
	if len(ps.list) == 0 {
		return nil
	}
	out := make([]Problem, len(ps.list))
	for i, p := range ps.list {
		if src := ps.origin(p.Key); src != "" {
			p.Msg += " (from " + src + ")"
		}
		out[i] = p
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Msg < out[j].Msg
	})
	// Drop exact duplicates (one cause can be seen twice, e.g. by two checks).
	dedup := out[:0]
	for i, p := range out {
		if i > 0 && p == out[i-1] {
			continue
		}
		dedup = append(dedup, p)
	}
	return &Error{File: file, Problems: dedup}
}

// origin returns the override that set key or one of its parents, or else, for a key the
// file does not have, the first override that created it by setting a key below it.
func (ps *problems) origin(key string) string {
	if key == "" {
		return ""
	}
	for k := key; k != ""; {
		if src, ok := ps.origins[k]; ok {
			return src
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	if ps.inFile == nil || ps.inFile(key) {
		return ""
	}
	for _, k := range sortedKeys(ps.origins) {
		if strings.HasPrefix(k, key+".") {
			return ps.origins[k]
		}
	}
	return ""
}

// nearest returns the candidate closest to s by optimal-string-alignment (restricted
// Damerau–Levenshtein) distance, if it is close enough to be a plausible typo: at most
// 1 + len(s)/4 edits, and fewer than len(s) (so "x" does not suggest "y").
func nearest(s string, candidates []string) (string, bool) {
	best, bestD := "", -1
	for _, c := range candidates {
		d := osaDistance(s, c)
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if bestD < 0 {
		return "", false
	}
	limit := 1 + len([]rune(s))/4
	if bestD > limit || bestD >= len([]rune(s)) {
		return "", false
	}
	return best, true
}

// osaDistance is the optimal string alignment distance between a and b: the least number
// of insertions, deletions, substitutions and transpositions of adjacent characters that
// turn a into b, no substring edited twice (Damerau 1964; Boytsov 2011 for the name).
func osaDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	n, m := len(ra), len(rb)
	d := make([][]int, n+1)
	for i := range d {
		d[i] = make([]int, m+1)
		d[i][0] = i
	}
	for j := 0; j <= m; j++ {
		d[0][j] = j
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			v := min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				v = min(v, d[i-2][j-2]+1)
			}
			d[i][j] = v
		}
	}
	return d[n][m]
}

// suggest renders "; did you mean X?" for the nearest candidate, or "".
func suggest(s string, candidates []string) string {
	if c, ok := nearest(s, candidates); ok {
		return fmt.Sprintf("; did you mean %q?", c)
	}
	return ""
}

// oneOf renders a sorted candidate list for messages.
func oneOf(candidates []string) string {
	if len(candidates) == 0 {
		return "none registered"
	}
	c := append([]string(nil), candidates...)
	sort.Strings(c)
	return strings.Join(c, ", ")
}
