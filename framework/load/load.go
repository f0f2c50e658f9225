package load

import "time"

// Profile is offered load in requests per second as a function of the offset from the
// start of the episode.
type Profile interface {
	// Rate returns the offered rate (req/s, ≥ 0) at offset t.
	Rate(t time.Duration) float64
	// MaxRate returns an upper bound of Rate over all t (used for thinning).
	MaxRate() float64
}

// ArrivalKind names an arrival process.
type ArrivalKind string

// Arrival processes.
const (
	Poisson       ArrivalKind = "poisson"
	Deterministic ArrivalKind = "deterministic"
	Gamma         ArrivalKind = "gamma"
)

// Arrivals configures the arrival process around the profile's rate.
type Arrivals struct {
	Kind ArrivalKind `json:"kind"`
	// CV is the coefficient of variation of inter-arrival times for Gamma (1 = Poisson).
	CV float64 `json:"cv,omitempty"`
}

// Load is a named profile with its arrival process.
type Load struct {
	Name     string
	Profile  Profile
	Arrivals Arrivals
}
