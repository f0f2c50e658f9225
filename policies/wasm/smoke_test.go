package wasm

import (
	"context"
	"testing"
)

func TestBaseModuleActs(t *testing.T) {
	p := newPolicy(t, testConfig(writeModule(t, baseModule().encode())), discreteSpecs(3, "x", "y"), 1)
	a, err := p.Act(context.Background(), obsOf(0.5, 0.25))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Values) != 1 || a.Values[0] != 1 {
		t.Fatalf("action %v, want [1]", a.Values)
	}
}
