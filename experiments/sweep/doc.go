// Package sweep runs ablation studies: a base experiment config plus axes, each a config
// key with a list of values or a set of named variants (state designs, action designs,
// reward designs, policy hyper-parameters), combined as a full cartesian product or
// zipped. Every combination is a cell with a stable, readable ID (axis=label pairs joined
// by ",", e.g. "state=no-gpu,reward=latency-only") and is an experiment of its own: the
// base config with the cell's overrides, run as `scalelab run` would run it.
//
// A sweep file (docs/experiments.md has the full reference):
//
//	name: ablation-state
//	base: seed.yaml                   # or an inline config: {...}
//	set: {experiment.repetitions: 5}  # applied to every cell
//	mode: product                     # or zip
//	axes:
//	  - name: state
//	    variants:
//	      full:   {state.features: [request_rate, p95_latency_ms, gpu_util]}
//	      no-gpu: {state.features: [request_rate, p95_latency_ms]}
//	  - key: reward.terms.latency.weight
//	    values: [0.5, 1, 2]
//
// Values and variant assignments are applied as --set overrides ("key=value", lists and
// mappings as YAML flow collections), so they are validated exactly as the command line's
// and a cell is reproduced with `scalelab run BASE --set ...` using the cell's Sets.
//
// Results (root = <experiment.out>/<sweep name> or --out):
//
//	sweep.json                 the plan: axes, cells, trainings, number of runs
//	status.json                counts and failures of the last full sweep
//	train/<policy>-<hash12>/   one training of a learning policy (trainer files, train.json)
//	cells/<cell-id>/           one experiment: config.resolved.yaml, cell.json,
//	                           experiment.json, summary.*, runs/<policy>/<profile>/rep-<k>/
//	report.md, report.html     the study's report (experiments/report)
//
// Learning policies — those whose built instance implements framework.Trainer and holds no
// trained model — are trained once per distinct training hash (experiments.Builder.
// TrainHash: the cell's config without evaluation-only keys), through the Trainer interface
// on environments whose seeds come from the training stream (experiments.TrainSeed), and
// the cells then evaluate the checkpoint: the sweep sets policies.<name>.<checkpoint_key>
// to the training's checkpoint file (train: checkpoint_key, checkpoint_file in the sweep
// file; defaults "checkpoint" and "checkpoint.json").
//
// Runs are numbered in a fixed order (cells in expansion order, each cell's matrix in
// experiments.Builder.Matrix order), so `scalelab run-index FILE --index N` runs the same
// run on any machine, into the same folder, with the same outputs. Jobs turns that into
// Kubernetes Indexed Jobs for a cluster with a shared volume.
package sweep
