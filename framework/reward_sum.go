package framework

// WeightedTerm is a reward term with its config name and weight.
type WeightedTerm struct {
	Name   string
	Weight float64
	Term   RewardTerm
}

// WeightedReward is the reward design: the weighted sum of its terms, each recorded.
type WeightedReward struct {
	terms []WeightedTerm
	names []string
}

// NewWeightedReward composes terms (in the given order).
func NewWeightedReward(terms []WeightedTerm) *WeightedReward {
	w := &WeightedReward{terms: terms}
	for _, t := range terms {
		w.names = append(w.names, t.Name)
	}
	return w
}

var _ Reward = (*WeightedReward)(nil)

// Terms names the terms in order.
func (w *WeightedReward) Terms() []string { return w.names }

// Compute returns weight·value for each term.
func (w *WeightedReward) Compute(s StepInfo) []float64 {
	out := make([]float64, len(w.terms))
	for i, t := range w.terms {
		out[i] = t.Weight * t.Term.Value(s)
	}
	return out
}

// Sum adds values.
func Sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}
