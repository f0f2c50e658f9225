package sweep

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/scalelab/scalelab/experiments/internal/fakes"
)

// validateJob applies the API server's create-time rules for the fields an emitted Job
// uses, ported from k8s.io/kubernetes v1.36 pkg/apis/batch/validation (ValidateJob,
// validateJobSpec) and pkg/apis/core/validation (ValidatePodTemplateSpec: containers,
// volumes, mounts, env, restart policy). It returns one message per violated rule.
func validateJob(j *batchv1.Job) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if j.APIVersion != "batch/v1" || j.Kind != "Job" {
		bad("apiVersion/kind %s/%s, want batch/v1 Job", j.APIVersion, j.Kind)
	}
	for _, e := range validation.IsDNS1123Subdomain(j.Name) {
		bad("metadata.name: %s", e)
	}
	if j.Namespace != "" {
		for _, e := range validation.IsDNS1123Label(j.Namespace) {
			bad("metadata.namespace: %s", e)
		}
	}
	checkLabels := func(where string, m map[string]string) {
		for k, v := range m {
			for _, e := range validation.IsQualifiedName(k) {
				bad("%s: key %q: %s", where, k, e)
			}
			for _, e := range validation.IsValidLabelValue(v) {
				bad("%s: value %q: %s", where, v, e)
			}
		}
	}
	checkLabels("metadata.labels", j.Labels)
	checkLabels("spec.template.metadata.labels", j.Spec.Template.Labels)
	s := j.Spec
	if s.Selector != nil || (s.ManualSelector != nil && *s.ManualSelector) {
		bad("spec.selector: must be left to the API server to generate")
	}
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		bad("spec.completionMode: want Indexed")
	}
	if s.Completions == nil {
		bad("spec.completions: Required value: when completion mode is Indexed")
	} else {
		if *s.Completions < 1 || *s.Completions > 100000 {
			bad("spec.completions: %d outside 1..100000", *s.Completions)
		}
		host := fmt.Sprintf("%s-%d", j.Name, *s.Completions-1)
		for _, e := range validation.IsDNS1123Label(host) {
			bad("metadata.name: will not able to create pod with invalid DNS label: %s: %s", host, e)
		}
	}
	if s.Parallelism != nil && (*s.Parallelism < 0 || *s.Parallelism > 100000) {
		bad("spec.parallelism: %d outside 0..100000", *s.Parallelism)
	}
	if s.BackoffLimitPerIndex != nil && *s.BackoffLimitPerIndex < 0 {
		bad("spec.backoffLimitPerIndex: must be non-negative")
	}
	p := s.Template.Spec
	if p.RestartPolicy != corev1.RestartPolicyNever && p.RestartPolicy != corev1.RestartPolicyOnFailure {
		bad("spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"")
	}
	vols := map[string]bool{}
	for _, v := range p.Volumes {
		for _, e := range validation.IsDNS1123Label(v.Name) {
			bad("volume %q: %s", v.Name, e)
		}
		if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName == "" {
			bad("volume %q: want a persistentVolumeClaim with a claimName", v.Name)
		}
		vols[v.Name] = true
	}
	if len(p.Containers) == 0 {
		bad("spec.template.spec.containers: Required value")
	}
	for _, c := range p.Containers {
		for _, e := range validation.IsDNS1123Label(c.Name) {
			bad("container name %q: %s", c.Name, e)
		}
		if c.Image == "" {
			bad("container %s: image: Required value", c.Name)
		}
		switch c.ImagePullPolicy {
		case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
		default:
			bad("container %s: imagePullPolicy %q not supported", c.Name, c.ImagePullPolicy)
		}
		for _, m := range c.VolumeMounts {
			if !vols[m.Name] {
				bad("container %s: volumeMount %q names no volume", c.Name, m.Name)
			}
			if !strings.HasPrefix(m.MountPath, "/") {
				bad("container %s: mountPath %q must be absolute", c.Name, m.MountPath)
			}
		}
		for _, e := range c.Env {
			for _, msg := range validation.IsEnvVarName(e.Name) {
				bad("env %q: %s", e.Name, msg)
			}
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
				e.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
				bad("env %q: unexpected fieldRef %q", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
		}
		if req, lim := c.Resources.Requests.Memory(), c.Resources.Limits.Memory(); !lim.IsZero() && req.Cmp(*lim) > 0 {
			bad("container %s: memory request above its limit", c.Name)
		}
	}
	return errs
}

// TestJobManifest: the emitted manifest decodes strictly into k8s.io/api batch/v1 Jobs that
// pass the API server's create-time rules; the training Job comes first with one index per
// training, the evaluation Job has one completion per run and runs run-index with the
// sweep's overrides; each pod reads its index from JOB_COMPLETION_INDEX.
func TestJobManifest(t *testing.T) {
	dir := t.TempDir()
	p := writeSweep(t, dir, learnerSweep)
	s := open(t, p, &fakes.Record{}, filepath.Join(dir, "out"), "policies.learn={type: learner, target: 2}")
	jobs, err := s.Jobs(JobOptions{Image: "scalelab:dev", SweepFile: "configs/sweep.yaml", Root: "results/sweep",
		Sets: []string{"policies.learn={type: learner, target: 2}"}, Name: "Ablation State!"})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := JobManifest(jobs, "test manifest\nsecond line")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(manifest, []byte("creationTimestamp")) || bytes.Contains(manifest, []byte("status:")) {
		t.Errorf("manifest carries empty server-side fields:\n%s", manifest)
	}
	docs := strings.Split(string(manifest), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("%d documents, want 2 (training, evaluation)", len(docs))
	}
	var got []*batchv1.Job
	for i, d := range docs {
		var j batchv1.Job
		if err := sigsyaml.UnmarshalStrict([]byte(d), &j); err != nil {
			t.Fatalf("document %d does not decode strictly into batch/v1 Job: %v\n%s", i, err, d)
		}
		for _, e := range validateJob(&j) {
			t.Errorf("%s: %s", j.Name, e)
		}
		got = append(got, &j)
	}
	train, eval := got[0], got[1]
	if train.Name != "ablation-state-train" || eval.Name != "ablation-state-eval" {
		t.Errorf("names %q, %q", train.Name, eval.Name)
	}
	if *train.Spec.Completions != int32(len(s.Trainings)) || *eval.Spec.Completions != int32(len(s.Runs)) {
		t.Errorf("completions %d and %d, want %d trainings and %d runs", *train.Spec.Completions, *eval.Spec.Completions, len(s.Trainings), len(s.Runs))
	}
	if *eval.Spec.Parallelism != 4 {
		t.Errorf("parallelism %d, want the default 4", *eval.Spec.Parallelism)
	}
	c := eval.Spec.Template.Spec.Containers[0]
	wantArgs := []string{"run-index", "configs/sweep.yaml", "--out", "results/sweep", "--wait-train", (24 * time.Hour).String(), "--set", "policies.learn={type: learner, target: 2}"}
	if strings.Join(c.Args, "|") != strings.Join(wantArgs, "|") || c.Command[0] != "scalelab" || c.WorkingDir != "/work" {
		t.Errorf("eval container: command %q args %q workdir %q", c.Command, c.Args, c.WorkingDir)
	}
	if c.Env[0].Name != IndexEnv || c.Env[0].ValueFrom == nil {
		t.Errorf("eval container env %+v lacks the completion index", c.Env)
	}
	if tc := train.Spec.Template.Spec.Containers[0]; !strings.Contains(strings.Join(tc.Args, " "), "--train") {
		t.Errorf("training container args %q lack --train", tc.Args)
	}
	// A sweep without learners emits only the evaluation Job.
	s2 := open(t, writeSweep(t, dir, twoCells), &fakes.Record{}, filepath.Join(dir, "out2"))
	jobs, err = s2.Jobs(JobOptions{Image: "scalelab:dev", SweepFile: "sweep.yaml", Root: "out2"})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs %d, err %v; want only the evaluation Job", len(jobs), err)
	}
}

func TestJobOptionsRejected(t *testing.T) {
	dir := t.TempDir()
	s := open(t, writeSweep(t, dir, twoCells), &fakes.Record{}, filepath.Join(dir, "out"))
	tests := []struct {
		name string
		o    JobOptions
		want string
	}{
		{"no image", JobOptions{SweepFile: "a.yaml", Root: "r"}, "image"},
		{"absolute root", JobOptions{Image: "x", SweepFile: "a.yaml", Root: "/abs"}, "inside the project folder"},
		{"escaping sweep file", JobOptions{Image: "x", SweepFile: "../a.yaml", Root: "r"}, "inside the project folder"},
		{"bad claim", JobOptions{Image: "x", SweepFile: "a.yaml", Root: "r", Claim: "My_Claim"}, "claim"},
		{"bad quantity", JobOptions{Image: "x", SweepFile: "a.yaml", Root: "r", Memory: "lots"}, "quantity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Jobs(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error about %s", err, tt.want)
			}
		})
	}
}
