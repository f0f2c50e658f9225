package prometheus

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/scalelab/scalelab/framework"
)

// Config are the Prometheus feature source's settings. Queries are PromQL with
// placeholders that expand to label matchers built from these keys (see Placeholders).
type Config struct {
	Address string        `mapstructure:"address" doc:"base URL of the Prometheus HTTP API" default:"http://localhost:9090"`
	Timeout time.Duration `mapstructure:"timeout" doc:"timeout of each PromQL query" default:"5s"`
	Window  time.Duration `mapstructure:"window" doc:"feature window W over which rates, quantiles and means are computed ($window)" default:"30s"`
	MaxAge  time.Duration `mapstructure:"max_age" doc:"a feature whose newest underlying sample is older than this is missing; 0 = no limit" default:"2m"`

	Namespace  string `mapstructure:"namespace" doc:"namespace of the workload" default:"default"`
	Deployment string `mapstructure:"deployment" doc:"Deployment of the workload (kube-state-metrics' deployment label)" default:"mobilenetv4"`
	PodRegex   string `mapstructure:"pod_regex" doc:"regular expression matching the workload's pod names; empty = <deployment>-.+" default:""`
	Container  string `mapstructure:"container" doc:"container of the inference server in per-container series; empty = every container of the pods" default:""`
	Model      string `mapstructure:"model" doc:"Triton model name (the model label of Triton's and the load generator's series)" default:"mobilenetv4"`

	LoadgenSelector string `mapstructure:"loadgen_selector" doc:"label matchers of the load generator's series ($loadgen); empty = model=\"<model>\"" default:""`
	TritonSelector  string `mapstructure:"triton_selector" doc:"extra label matchers of Triton's series, added to $pods and model=\"<model>\" ($triton)" default:""`
	GPUSelector     string `mapstructure:"gpu_selector" doc:"label matchers of DCGM-Exporter's series ($gpu); empty = every GPU" default:""`
	GPUHostname     string `mapstructure:"gpu_hostname" doc:"regular expression of the nodes whose GPUs count, matched against DCGM-Exporter's Hostname and hostname labels; empty = any node" default:""`

	Queries   map[string]string `mapstructure:"queries" doc:"PromQL per feature replacing the default queries (placeholders $window, $loadgen, $triton, $pods, $containers, $gpu, $deployment)" default:"{}"`
	Freshness map[string]string `mapstructure:"freshness" doc:"PromQL per overridden feature giving the Unix time of its newest underlying sample, for its age (e.g. max(timestamp(my_metric))); without it the age is 0" default:"{}"`
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{Address: "http://localhost:9090", Timeout: 5 * time.Second, Window: 30 * time.Second, MaxAge: 2 * time.Minute,
		Namespace: "default", Deployment: "mobilenetv4", Model: "mobilenetv4",
		Queries: map[string]string{}, Freshness: map[string]string{}}
}

// Validate checks the configuration and returns one error per problem, each naming its key.
func (c Config) Validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if u, err := url.Parse(c.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("address", "want an http:// or https:// URL of the Prometheus server, got %q", c.Address)
	}
	if c.Timeout <= 0 {
		add("timeout", "must be > 0, got %s", c.Timeout)
	}
	if c.Window <= 0 || c.Window%time.Second != 0 {
		add("window", "must be a positive whole number of seconds, got %s", c.Window)
	}
	if c.MaxAge < 0 {
		add("max_age", "must be ≥ 0, got %s", c.MaxAge)
	}
	if c.PodRegex != "" {
		if _, err := regexp.Compile(c.PodRegex); err != nil {
			add("pod_regex", "%v", err)
		}
	}
	if c.GPUHostname != "" {
		if _, err := regexp.Compile(c.GPUHostname); err != nil {
			add("gpu_hostname", "%v", err)
		}
	}
	for _, name := range sortedKeys(c.Queries) {
		if _, err := framework.LookupFeature(name); err != nil {
			add("queries."+name, "%v", err)
		}
		if strings.TrimSpace(c.Queries[name]) == "" {
			add("queries."+name, "empty query")
		}
	}
	for _, name := range sortedKeys(c.Freshness) {
		if _, ok := c.Queries[name]; !ok {
			add("freshness."+name, "only overridden features take a freshness query (the defaults have their own)")
		}
	}
	return errs
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Placeholders returns what each placeholder of a query expands to under this
// configuration: $window is the window as a PromQL duration; the others are label-matcher
// lists (without braces), never empty (an empty selection matches every series of the
// metric):
//
//	$loadgen     the load generator's series        loadgen_selector, else model="<model>"
//	$pods        the workload's pods                namespace="<ns>",pod=~"<pod_regex>"[,container="<c>"]
//	$containers  their containers in cAdvisor       $pods,container!="",image!=""
//	$triton      Triton's series of the model       $pods,model="<model>"[,triton_selector]
//	$gpu         DCGM-Exporter's GPU series          gpu_selector
//	$deployment  kube-state-metrics' Deployment     namespace="<ns>",deployment="<deployment>"
func (c Config) Placeholders() map[string]string {
	podRe := c.PodRegex
	if podRe == "" {
		podRe = regexp.QuoteMeta(c.Deployment) + "-.+"
	}
	pods := join(matcher("namespace", "=", c.Namespace), matcher("pod", "=~", podRe), optMatcher("container", "=", c.Container))
	loadgen := c.LoadgenSelector
	if loadgen == "" {
		loadgen = matcher("model", "=", c.Model)
	}
	return map[string]string{
		"$window":     model.Duration(c.Window).String(),
		"$loadgen":    orAll(loadgen),
		"$pods":       orAll(pods),
		"$containers": join(pods, `container!=""`, `image!=""`),
		"$triton":     orAll(join(pods, matcher("model", "=", c.Model), c.TritonSelector)),
		"$gpu":        orAll(c.GPUSelector),
		"$deployment": orAll(join(matcher("namespace", "=", c.Namespace), matcher("deployment", "=", c.Deployment))),
	}
}

// Expand replaces the placeholders of a query.
func (c Config) Expand(query string) string {
	ph := c.Placeholders()
	// Longest names first, so that no placeholder is a prefix match of another.
	names := make([]string, 0, len(ph))
	for k := range ph {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		return len(names[i]) > len(names[j]) || (len(names[i]) == len(names[j]) && names[i] < names[j])
	})
	var pairs []string
	for _, n := range names {
		pairs = append(pairs, n, ph[n])
	}
	return strings.NewReplacer(pairs...).Replace(query)
}

func matcher(label, op, value string) string {
	if value == "" {
		return ""
	}
	return label + op + quote(value)
}

func optMatcher(label, op, value string) string { return matcher(label, op, value) }

// quote renders a PromQL string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.Trim(strings.TrimSpace(p), ","); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

// orAll makes an empty matcher list valid PromQL that matches every series of a metric
// (a matcher matching the empty string holds for series without the label too; it cannot
// be on __name__, which a selector naming its metric must not set twice).
func orAll(m string) string {
	if m == "" {
		return `job=~".*"`
	}
	return m
}
