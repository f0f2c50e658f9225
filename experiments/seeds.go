package experiments

// splitmix64 is Vigna's SplitMix64 finaliser: a bijective 64-bit mixer.
func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// Seed domains keep evaluation, training and validation seed streams disjoint.
const (
	domainEval       uint64 = 0x6576616c00000000 // "eval"
	domainTrain      uint64 = 0x747261696e000000 // "train"
	domainValidation uint64 = 0x76616c6964000000 // "valid"
)

// EvalSeed is the evaluation seed of repetition rep (0-based): the same for every policy
// and profile of an experiment, so policies are compared on common random numbers.
func EvalSeed(experimentSeed uint64, rep int) uint64 {
	return splitmix64(splitmix64(experimentSeed^domainEval) + uint64(rep))
}

// TrainSeed is the seed of training run i, from a stream separate from EvalSeed's: the two
// streams start at independent SplitMix64 outputs of different domain constants, so for the
// first millions of indices they overlap with probability of order n²/2⁶⁴ (a test checks
// the first indices are disjoint).
func TrainSeed(experimentSeed uint64, i int) uint64 {
	return splitmix64(splitmix64(experimentSeed^domainTrain) + uint64(i))
}

// ValidationSeed is the seed of validation episode k (0-based) that a trainer runs
// periodically during training to select its best checkpoint: a third stream, held out
// from both training (TrainSeed) and evaluation (EvalSeed), so neither the policy's
// training nor the checkpoint selection sees an episode the experiment evaluates on (a
// test checks the first indices of the three streams are pairwise disjoint).
func ValidationSeed(experimentSeed uint64, k int) uint64 {
	return splitmix64(splitmix64(experimentSeed^domainValidation) + uint64(k))
}
