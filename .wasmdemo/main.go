// Temporary demo (not part of the tree): the seed experiment with WASM policies beside HPA.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	actuatorsim "github.com/scalelab/scalelab/actuators/sim"
	collectorsim "github.com/scalelab/scalelab/collectors/sim"
	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/actions"
	"github.com/scalelab/scalelab/framework/config"
	"github.com/scalelab/scalelab/policies/baselines"
	"github.com/scalelab/scalelab/policies/hpa"
	"github.com/scalelab/scalelab/policies/wasm"
	"github.com/scalelab/scalelab/rewards"
	"github.com/scalelab/scalelab/sim"
)

func main() {
	r := framework.NewRegistry()
	sim.Register(r)
	collectorsim.Register(r)
	actuatorsim.Register(r)
	actions.Register(r)
	rewards.Register(r)
	hpa.Register(r)
	baselines.Register(r)
	wasm.Register(r)
	l, err := config.Load(os.Args[1], os.Args[3:], r)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	b := &experiments.Builder{Loaded: l, Registry: r, Logger: slog.Default()}
	res, err := b.RunExperiment(context.Background(), experiments.Options{Root: b.Root(os.Args[2]), Workers: 2})
	if res != nil {
		fmt.Print(res.Summary.Text())
	}
	if err != nil {
		fmt.Println(err)
	}
}
