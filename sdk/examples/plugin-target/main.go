// Command plugin-target is an example scalelab policy plugin: target tracking on one
// feature (the HPA's rule, desired = ⌈replicas · value / target⌉) served over gRPC with the
// go-plugin SDK. Build it and name it in an experiment config:
//
//	go build -o bin/plugin-target ./sdk/examples/plugin-target
//
//	policies:
//	  plugin-target:
//	    type: plugin
//	    command: ../bin/plugin-target   # relative to the config file
//	    args: [-feature=cpu_util, -target=0.7]
//
// It works with the replica_delta design (the seed experiment's) and the replicas design,
// and needs the tracked feature (and replicas_desired) in the state design.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/scalelab/scalelab/sdk/examples/plugin-target/target"
	sdk "github.com/scalelab/scalelab/sdk/plugin"
)

func main() {
	c := target.DefaultConfig()
	flag.StringVar(&c.Feature, "feature", c.Feature, "tracked feature (catalogue name)")
	flag.Float64Var(&c.Target, "target", c.Target, "target value of the feature per replica")
	flag.Float64Var(&c.Tolerance, "tolerance", c.Tolerance, "relative band around the target within which the policy holds")
	flag.Parse()
	if err := c.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "plugin-target:", err)
		os.Exit(2)
	}
	sdk.Serve(target.New(c))
}
