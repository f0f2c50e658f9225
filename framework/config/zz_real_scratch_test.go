package config
import ("testing";"fmt";"os"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/actions"
	"github.com/scalelab/scalelab/rewards"
)
func realReg() *framework.Registry {
	r := fakeRegistry()
	r.Actions = map[string]framework.Factory[framework.ActionDesign]{}
	r.Rewards = map[string]framework.Factory[framework.RewardTerm]{}
	actions.Register(r); rewards.Register(r)
	return r
}
func TestRealScratch(t *testing.T){
  os.WriteFile("/tmp/seedlike.yaml", []byte(`
backend: {type: fakesim}
action: {type: replica_delta, max_step: 1}
reward:
  terms:
    latency: {weight: 1.0, shape: hinge, quantile: 0.95}
    qos_violation: {weight: 2.0}
    replica_cost: {weight: 0.3}
    gpu_util: {weight: 0.2}
    action_change: {weight: 0.05}
policies:
  hpa: {type: hpa, action: {type: batching}}
`), 0o644)
  l, err := LoadWithOptions("/tmp/seedlike.yaml", realReg(), Options{Env: []string{}})
  fmt.Println(err)
  if l != nil { y, _ := l.ResolvedYAML(); fmt.Println(string(y)) }
  for _, e := range CheckDefaults(realReg()) { fmt.Println("CHECKDEFAULTS:", e) }
  fmt.Println(Document(realReg()))
}
