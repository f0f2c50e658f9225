package algorithm_test

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/scalelab/scalelab/policies/hpa/algorithm"
)

// A CPU HPA at 60 % synced once: four ready pods each using 900m of a 1000m request are at
// 90 %, a ratio of 1.5, so the HPA proposes ceil(1.5 × 4) = 6 replicas.
func ExampleController() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c, err := algorithm.NewController(algorithm.CPUUtilizationSpec(1, 10, 60), algorithm.DefaultSettings())
	if err != nil {
		panic(err)
	}
	var pods []algorithm.PodSample
	for i := range 4 {
		pods = append(pods, algorithm.PodSample{
			Name:            fmt.Sprintf("triton-%d", i),
			Phase:           corev1.PodRunning,
			Ready:           corev1.ConditionTrue,
			ReadyTransition: now.Add(-9 * time.Minute),
			StartTime:       now.Add(-10 * time.Minute),
			Requests:        map[corev1.ResourceName]int64{corev1.ResourceCPU: 1000},
			Metrics:         map[string]algorithm.Metric{"cpu": {Value: 900, Timestamp: now, Window: 30 * time.Second}},
		})
	}
	res, err := c.Sync(now, algorithm.Input{SpecReplicas: 4, Pods: pods})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Replicas, *res.Status.CurrentMetrics[0].Resource.Current.AverageUtilization)
	// Output: 6 90
}
