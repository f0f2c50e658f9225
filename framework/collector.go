package framework

import "context"

// Collector turns backend metrics into observations for the configured state design.
type Collector interface {
	// Features returns the specs of the features Collect reports, in order.
	Features() []FeatureSpec
	// Collect reads the current observation (the backend's clock is its time).
	Collect(ctx context.Context) (Observation, error)
}
