package baselines

import (
	"context"
	"testing"

	"github.com/scalelab/scalelab/framework"
)

// BenchmarkKPAAct measures one KPA tick on an 8-pod cluster view (every 2 s of simulated time).
func BenchmarkKPAAct(b *testing.B) {
	k, err := NewKPA(DefaultKPAConfig())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	obs := kpaView(0, 8, 5, 8)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		obs.Time = at(2 * i)
		obs.Cluster.Now = obs.Time
		obs.Cluster.Pods[0].Metrics["inflight"] = framework.MetricSample{Value: float64(i % 20)}
		if _, err := k.Act(ctx, obs); err != nil {
			b.Fatal(err)
		}
	}
}
