package main

import (
	actuatorkube "github.com/scalelab/scalelab/actuators/kube"
	actuatorsim "github.com/scalelab/scalelab/actuators/sim"
	collectorkube "github.com/scalelab/scalelab/collectors/kube"
	collectorsim "github.com/scalelab/scalelab/collectors/sim"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/actions"
	"github.com/scalelab/scalelab/kube"
	"github.com/scalelab/scalelab/policies/baselines"
	"github.com/scalelab/scalelab/policies/hpa"
	"github.com/scalelab/scalelab/policies/plugin"
	"github.com/scalelab/scalelab/policies/ppo"
	"github.com/scalelab/scalelab/policies/wasm"
	"github.com/scalelab/scalelab/rewards"
	"github.com/scalelab/scalelab/sim"
)

// newRegistry registers every built-in component. This is the one place that knows them:
// the framework imports none.
func newRegistry() *framework.Registry {
	r := framework.NewRegistry()
	sim.Register(r)
	collectorsim.Register(r)
	actuatorsim.Register(r)
	kube.Register(r)
	collectorkube.Register(r)
	actuatorkube.Register(r)
	actions.Register(r)
	rewards.Register(r)
	hpa.Register(r)
	baselines.Register(r)
	plugin.Register(r)
	ppo.Register(r)
	wasm.Register(r)
	return r
}
