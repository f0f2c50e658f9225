// Package plugin is the host of out-of-process policies: a policy served by a separate
// executable over gRPC with hashicorp/go-plugin, the way Nomad Autoscaler, Terraform and
// Vault run their plugins. Such a policy may hold large models, keep state across
// episodes, use native libraries or be written in any language with gRPC; a crash in it
// cannot take scalelab down. Plugins are written with sdk/plugin (Go) or from the contract
// in docs/policy-abi.md (sdk/proto/policy/v1/policy.proto).
//
// In config a plugin is a policy like any other:
//
//	policies:
//	  my-agent:
//	    type: plugin
//	    command: ../bin/my-agent        # relative to the config file
//	    args: [-model=agent.onnx]
//	    checksum: sha256:…              # optional
//	    deadline: 200ms                 # the framework's per-decision deadline (default fallback.deadline)
//
// Keys: command, args, checksum, call_timeout, start_timeout, max_restarts,
// restart_backoff, socket_dir (see Config). The per-decision deadline of Act is the
// framework's policies.<name>.deadline key: the runner passes it as Act's context deadline,
// and the host gives the gRPC call exactly that deadline.
//
// Life cycle. Init starts the process (go-plugin handshake over a Unix socket in a private
// directory), sends the specs and learns whether the plugin wants Observe and Reset calls.
// Act sends the observation, validity mask, ages and time, and checks the answer. Close
// sends Close, lets the plugin exit (killing it after a grace period), reaps it and removes
// its socket directory. The plugin runs in a process group of its own (a terminal's Ctrl-C
// reaches only scalelab, which then closes its plugins in order) and, on Linux, is killed
// by the kernel if scalelab dies without closing it; sdk/plugin's Serve also exits when its
// parent disappears. CloseAll closes every plugin of the process still open.
//
// Failures. A plugin that crashes, hangs past the deadline, answers something that is not
// an ActResponse, answers the wrong number of values, panics (sdk/plugin reports a panic as
// Aborted) or loses its initialisation fails that decision — Act returns an error, so the
// runner's fallback acts and the trajectory marks the step — and the process is killed and
// restarted on a later call after restart_backoff (doubling per consecutive failure, up to
// 32×). A restart due before the decision's deadline is waited for; a later one fails the
// decision at once. A restarted plugin that does not answer in what the restart left of the
// deadline fails that decision without counting as hung. After max_restarts restarts the next failure disables the plugin for the
// rest of the run: every call returns ErrDisabled. An error the plugin returns on purpose,
// or a NaN/Inf action, fails only that decision. Stats reports starts, restarts, failures
// and whether the plugin was disabled. The state machine is drawn next to type state.
//
// The plugin's standard error (and its standard output after the handshake) goes to the
// run's structured log, one record per line, tagged with the policy, stream and pid: lines
// in hclog's JSON format (what sdk/plugin's Logger writes) keep their level and attributes,
// other lines are logged at info (go-plugin's "[LEVEL]" prefixes and Go panics select the
// level).
package plugin
