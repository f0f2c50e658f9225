package sweep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsyaml "sigs.k8s.io/yaml"
)

// JobOptions shape the Kubernetes Indexed Jobs of EmitJobs. Paths are as the pods see them:
// the project folder (configs and the files they reference, and the results root) lies on
// a shared PersistentVolumeClaim mounted at MountPath, which is the pods' working
// directory; SweepFile and Root are relative to it.
type JobOptions struct {
	// Name prefixes the Jobs' names (default "scalelab-<sweep name>"); the evaluation Job
	// is <Name>-eval, the training Job <Name>-train.
	Name string
	// Namespace of the Jobs (empty: kubectl's current namespace).
	Namespace string
	// Image is the container image holding the scalelab binary (required).
	Image string
	// ImagePullPolicy (default IfNotPresent, which suits images loaded into Kind).
	ImagePullPolicy corev1.PullPolicy
	// Command starts scalelab in the image (default ["scalelab"]).
	Command []string
	// Claim is the PersistentVolumeClaim holding the project and results (default
	// "scalelab"); it must allow ReadWriteMany when pods land on several nodes.
	Claim string
	// MountPath is where the claim is mounted and the pods' working directory (default
	// "/work").
	MountPath string
	// SweepFile and Root are the sweep file and the results root, relative to MountPath.
	SweepFile, Root string
	// Sets are the --set overrides the sweep was opened with; the pods repeat them.
	Sets []string
	// Parallelism is the number of evaluation pods at once (default min(runs, 4)).
	Parallelism int
	// CPU and Memory are each pod's requests (defaults "1" and "1Gi"); the memory request
	// is also the limit.
	CPU, Memory string
	// BackoffLimitPerIndex is how often a failed run is retried (default 1): a run that
	// keeps failing fails its index only, the other runs go on.
	BackoffLimitPerIndex int
	// WaitTrain is how long an evaluation pod of a learning policy waits for its training
	// (default 24 h).
	WaitTrain time.Duration
}

func (o *JobOptions) defaults(s *Sweep) error {
	if o.Image == "" {
		return fmt.Errorf("job: an image holding scalelab is required (--image)")
	}
	if o.Name == "" {
		o.Name = "scalelab-" + s.File.Name
	}
	o.Name = dnsName(o.Name)
	if o.ImagePullPolicy == "" {
		o.ImagePullPolicy = corev1.PullIfNotPresent
	}
	if len(o.Command) == 0 {
		o.Command = []string{"scalelab"}
	}
	if o.Claim == "" {
		o.Claim = "scalelab"
	}
	if o.MountPath == "" {
		o.MountPath = "/work"
	}
	if o.Parallelism <= 0 {
		o.Parallelism = min(len(s.Runs), 4)
	}
	if o.CPU == "" {
		o.CPU = "1"
	}
	if o.Memory == "" {
		o.Memory = "1Gi"
	}
	if o.BackoffLimitPerIndex <= 0 {
		o.BackoffLimitPerIndex = 1
	}
	if o.WaitTrain <= 0 {
		o.WaitTrain = 24 * time.Hour
	}
	for _, p := range []struct{ name, v string }{{"sweep file", o.SweepFile}, {"results root", o.Root}} {
		if p.v == "" || filepath.IsAbs(p.v) || strings.HasPrefix(filepath.Clean(p.v), "..") {
			return fmt.Errorf("job: the %s %q must be a path inside the project folder (run --emit-job from the folder that the claim holds)", p.name, p.v)
		}
	}
	if !filepath.IsAbs(o.MountPath) {
		return fmt.Errorf("job: the mount path %q must be absolute", o.MountPath)
	}
	if errs := validation.IsDNS1123Label(o.Claim); len(errs) > 0 {
		return fmt.Errorf("job: claim %q: %s", o.Claim, strings.Join(errs, "; "))
	}
	if o.Namespace != "" {
		if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
			return fmt.Errorf("job: namespace %q: %s", o.Namespace, strings.Join(errs, "; "))
		}
	}
	for _, q := range []string{o.CPU, o.Memory} {
		if _, err := resource.ParseQuantity(q); err != nil {
			return fmt.Errorf("job: resource quantity %q: %w", q, err)
		}
	}
	return nil
}

// dnsName lowercases s into a DNS-1123 label of at most 40 characters (room for the
// -train/-eval suffix and the pod's -<index> hostname suffix).
func dnsName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-")
	}
	if len(out) > 40 {
		out = strings.TrimRight(out[:40], "-")
	}
	if out == "" {
		out = "scalelab"
	}
	return out
}

// IndexEnv is the environment variable holding a pod's completion index.
const IndexEnv = "JOB_COMPLETION_INDEX"

// Jobs returns the Indexed Jobs that run the sweep on a cluster: when learning policies
// need training, first a training Job (one completion index per training, each running
// `scalelab run-index FILE --train`), then the evaluation Job (one completion index per
// run, `scalelab run-index FILE`). Each pod reads its index from JOB_COMPLETION_INDEX and
// writes into the shared results root exactly what the same run writes in a local sweep;
// evaluation pods of learning policies wait for their training's checkpoint. Merge and
// render with `scalelab report ROOT` once the Jobs completed.
func (s *Sweep) Jobs(o JobOptions) ([]*batchv1.Job, error) {
	if err := o.defaults(s); err != nil {
		return nil, err
	}
	var jobs []*batchv1.Job
	if len(s.Trainings) > 0 {
		jobs = append(jobs, s.job(o, "train", len(s.Trainings), len(s.Trainings), []string{"--train"}))
	}
	jobs = append(jobs, s.job(o, "eval", len(s.Runs), o.Parallelism, []string{"--wait-train", o.WaitTrain.String()}))
	for _, j := range jobs {
		host := j.Name + "-" + strconv.Itoa(int(*j.Spec.Completions)-1)
		if errs := validation.IsDNS1123Label(host); len(errs) > 0 {
			return nil, fmt.Errorf("job name %q: the pods' hostname %q is not a DNS label: %s (choose a shorter --job-name)", j.Name, host, strings.Join(errs, "; "))
		}
	}
	return jobs, nil
}

func (s *Sweep) job(o JobOptions, component string, completions, parallelism int, extra []string) *batchv1.Job {
	labels := map[string]string{
		"app.kubernetes.io/name":       "scalelab",
		"app.kubernetes.io/component":  "sweep-" + component,
		"app.kubernetes.io/managed-by": "scalelab",
		"scalelab.io/sweep":            dnsName(s.File.Name),
	}
	args := append([]string(nil), o.Command[1:]...)
	args = append(args, "run-index", filepath.ToSlash(o.SweepFile), "--out", filepath.ToSlash(o.Root))
	args = append(args, extra...)
	for _, set := range o.Sets {
		args = append(args, "--set", set)
	}
	mode := batchv1.IndexedCompletion
	mem := resource.MustParse(o.Memory)
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name + "-" + component, Namespace: o.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			CompletionMode:       &mode,
			Completions:          ptr(int32(completions)),
			Parallelism:          ptr(int32(parallelism)),
			BackoffLimitPerIndex: ptr(int32(o.BackoffLimitPerIndex)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name:            "scalelab",
						Image:           o.Image,
						ImagePullPolicy: o.ImagePullPolicy,
						Command:         []string{o.Command[0]},
						Args:            args,
						WorkingDir:      o.MountPath,
						Env: []corev1.EnvVar{{
							Name: IndexEnv,
							ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
								FieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']",
							}},
						}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(o.CPU), corev1.ResourceMemory: mem},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: mem},
						},
						VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: o.MountPath}},
					}},
					Volumes: []corev1.Volume{{
						Name:         "work",
						VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: o.Claim}},
					}},
				},
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// JobManifest renders the Jobs as one multi-document YAML manifest for `kubectl apply -f`,
// without the empty status and creation timestamps the API types would print.
func JobManifest(jobs []*batchv1.Job, header string) ([]byte, error) {
	var buf bytes.Buffer
	for _, line := range strings.Split(strings.TrimSpace(header), "\n") {
		if line != "" {
			fmt.Fprintf(&buf, "# %s\n", line)
		}
	}
	for i, j := range jobs {
		raw, err := json.Marshal(j)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		delete(m, "status")
		prune(m, "metadata", "creationTimestamp")
		prune(m, "spec", "template", "metadata", "creationTimestamp")
		y, err := sigsyaml.Marshal(m)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(y)
	}
	return buf.Bytes(), nil
}

// prune deletes m[path...] when present.
func prune(m map[string]any, path ...string) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, path[len(path)-1])
}
