package framework

import (
	"os"
	"strings"
	"testing"
)

// TestCatalogueDocumented keeps docs/features.md and the catalogue in step: every feature is
// documented with its unit, and every documented feature exists.
func TestCatalogueDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/features.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	documented := map[string]bool{}
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(line, "|")
		name := strings.Trim(strings.TrimSpace(cols[1]), "`")
		unit := strings.TrimSpace(cols[2])
		documented[name] = true
		f, err := LookupFeature(name)
		if err != nil {
			t.Errorf("docs/features.md documents %q, which is not in the catalogue", name)
			continue
		}
		if f.Unit != unit {
			t.Errorf("feature %s: unit %q in code, %q in docs/features.md", name, f.Unit, unit)
		}
	}
	for _, f := range Catalogue {
		if !documented[f.Name] {
			t.Errorf("catalogue feature %q is missing from docs/features.md", f.Name)
		}
	}
}
