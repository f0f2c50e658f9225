// Package config loads, resolves and validates scalelab configuration files.
//
// A config is a YAML file with snake_case keys whose shape is framework.Config. Load reads it
// with viper, applies overrides, fills defaults, decodes every section strictly with
// go-viper/mapstructure and validates the result, collecting every problem before it
// returns. The result, a *Loaded, is what the runner, experiments and CLI build from.
//
// # Layers
//
// Values come from three layers; a later layer wins:
//
//  1. the file;
//  2. the environment: variables SCALELAB_<PATH>=value, where <PATH> is the key path
//     with "__" between levels (SCALELAB_EXPERIMENT__REPETITIONS=10 sets
//     experiment.repetitions; SCALELAB_POLICIES__HPA__SYNC_PERIOD=30s sets
//     policies.hpa.sync_period). A variable whose name holds "__" or names a whole section
//     (SCALELAB_EXPERIMENT='{seed: 3}') is an override, checked as strictly as the file;
//     other SCALELAB_ variables (SCALELAB_PLUGIN_LOG_LEVEL) are not config and are ignored;
//  3. --set key.path=value arguments, in order.
//
// Keys are case-insensitive (viper lowercases them). An override value is a YAML scalar or a
// YAML flow sequence or mapping ("experiment.profiles=[low,high]"); a scalar takes the type
// of the key it sets, so "10" becomes an integer, a number, a duration ("15s") or a string
// as the key requires. A single value given for a list key is a one-element list.
//
// # Defaults and decoding
//
// A key that is absent or null keeps its default: the framework's defaults come from the
// `default` tags of framework.Config (Defaults), a component's from its Factory.Defaults.
// A list or map written in the file replaces the default list or map; a mapping for a
// struct is merged key by key into the defaults. Decoding is strict: an unknown key is an
// error naming its path and the nearest valid key; a value of the wrong type is an error
// naming the key and the expected type; a duration must carry a unit ("15s"; a bare 0 is
// accepted); an integer key rejects 2.5.
//
// Component sections — backend, action, reward.terms.<name>, policies.<name> and
// policies.<name>.action — carry a `type` naming a registered factory. Their remaining keys
// are decoded into the factory's config struct (Factory.Defaults), then checked by its
// Validate method and Factory.Check. A reward term also takes `weight` (a number, default 1)
// and its type defaults to the term's name. A policy's `type`, `deadline`, `features` and
// `action` are framework keys (framework.PolicyConfig). Keys listed in Factory.RawKeys hold
// embedded Kubernetes objects: they keep Kubernetes' camelCase, so they are read again from
// the file with sigs.k8s.io/yaml (case preserved) and handed over in Loaded.Raw,
// PolicyConfig.Raw and BuildContext.Raw; overrides cannot reach into them.
//
// Load profiles under `profiles` are decoded strictly into load.DefaultParams and built by
// load.FromConfig; experiment.profiles may name those or the built-ins (load.Builtin). The
// `train` section is kept as written (its keys belong to the trainer). The names of
// policies, profiles and reward terms name result folders and trajectory columns: lowercase
// letters, digits, _ and -.
//
// Checks that need more than one key are done here too: replica bounds, warm-up shorter
// than the run, the baseline naming a configured policy, features from the catalogue, a
// collector and an actuator registered for the backend type. Component code (Validate,
// Check) that panics is reported as a problem instead of crashing the load.
//
// # Reproducibility
//
// Loaded.Resolved is the fully resolved config as plain values and Loaded.Hash the SHA-256
// over its canonical JSON and the digests of every file the config references (see
// Loaded.Hash for the exact definition). WriteResolved writes the resolved config as YAML;
// loading that file again yields the same hash.
//
// Document renders the reference of every key (docs/configuration.md) from the same structs
// the loader decodes into, so the two cannot drift.
package config
