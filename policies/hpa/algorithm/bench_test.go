package algorithm

import "testing"

// BenchmarkControllerSync measures one reconciliation of a CPU HPA over 16 pods (the
// simulator's actuator runs one every 15 s of virtual time).
func BenchmarkControllerSync(b *testing.B) {
	c, err := NewController(CPUUtilizationSpec(1, 32, 60), DefaultSettings())
	if err != nil {
		b.Fatal(err)
	}
	pods := podsWith(16, 700, -1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.Sync(secs(15*i), Input{SpecReplicas: 16, Pods: pods}); err != nil {
			b.Fatal(err)
		}
	}
}
