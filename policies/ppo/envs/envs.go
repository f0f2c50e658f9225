package envs

import (
	"fmt"
	"sort"
	"strings"

	"github.com/scalelab/scalelab/framework"
)

// Names of the validation environments, as written in a training config (`env:`).
const (
	CartPoleV1 = "cartpole-v1"
	PendulumV1 = "pendulum-v1"
)

var constructors = map[string]func() framework.Env{
	CartPoleV1: func() framework.Env { return NewCartPole() },
	PendulumV1: func() framework.Env { return NewPendulum() },
}

// Names returns the names New accepts, sorted.
func Names() []string {
	out := make([]string, 0, len(constructors))
	for n := range constructors {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// New returns a fresh validation environment by name (case-insensitive, so Gymnasium's
// "CartPole-v1" works too).
func New(name string) (framework.Env, error) {
	c, ok := constructors[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("unknown validation environment %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return c(), nil
}

// float32Max is np.finfo(np.float32).max, Gymnasium's bound for unbounded observations.
const float32Max = 3.4028234663852886e38

// f32 rounds to float32 precision, as Gymnasium's np.array(..., dtype=np.float32).
func f32(x float64) float64 { return float64(float32(x)) }

// errClosed is returned when a closed environment is used.
var errClosed = fmt.Errorf("environment is closed")
