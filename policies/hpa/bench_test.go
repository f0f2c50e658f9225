package hpa

import (
	"context"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// BenchmarkPolicyAct measures one HPA decision on an 8-pod cluster view, conversion of the
// view included (the runner calls it every 15 s of simulated time).
func BenchmarkPolicyAct(b *testing.B) {
	p, err := New(cpuSpec(60), framework.WorkloadConfig{MinReplicas: 1, MaxReplicas: 16}, DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	v := view(t0, 8, 8, 550)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v.Now = t0.Add(time.Duration(i) * 15 * time.Second)
		if _, err := p.Act(ctx, framework.Observation{Time: v.Now, Cluster: v}); err != nil {
			b.Fatal(err)
		}
	}
}
