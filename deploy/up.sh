#!/usr/bin/env bash
# Brings up scalelab's edge stack on the workstation (after deploy/install.sh): a Kind
# cluster with the GPU (nvkind), cloud-provider-kind for LoadBalancer addresses,
# kube-prometheus-stack, the GPU Operator with time-slicing (4 × nvidia.com/gpu),
# metrics-server, prometheus-adapter, Triton serving MobileNetV4, and the Grafana dashboard.
#
#   deploy/up.sh            # the stack, without the agent
#   deploy/up.sh --agent    # also build the scalelab image and start the in-cluster agent
#   deploy/up.sh --down     # delete the cluster
#
# Idempotent: existing releases are upgraded in place, existing objects re-applied. The
# Triton step needs the ONNX model (deploy/triton/export_mobilenetv4.py); without it the
# script stops there and says so. docs/real-cluster.md explains every step.
set -euo pipefail

CLUSTER="${CLUSTER:-scalelab}"
DEPLOY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DEPLOY/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/scalelab"
CONTEXT="kind-${CLUSTER}"
AGENT=0
DOWN=0
for arg in "$@"; do
  case "$arg" in
    --agent) AGENT=1 ;;
    --down) DOWN=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "up.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

log() { printf '[up] %s\n' "$*"; }
die() { printf '[up][error] %s\n' "$*" >&2; exit 1; }
k() { kubectl --context "$CONTEXT" "$@"; }
h() { helm --kube-context "$CONTEXT" "$@"; }

for tool in docker kind nvkind kubectl helm cloud-provider-kind; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: run deploy/install.sh first"
done

if [ "$DOWN" = 1 ]; then
  kind delete cluster --name "$CLUSTER"
  exit 0
fi

cluster() {
  if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    log "cluster $CLUSTER exists"
    return
  fi
  local values
  values="$(mktemp)"
  sed "s#MODEL_REPOSITORY#${DEPLOY}/triton/model-repository#" "$DEPLOY/kind/values.yaml" >"$values"
  sed -i "s#^name: .*#name: ${CLUSTER}#" "$values"
  log "creating cluster $CLUSTER with nvkind"
  nvkind cluster create --name "$CLUSTER" --config-template "$DEPLOY/kind/cluster.yaml.tmpl" --config-values "$values"
  rm -f "$values"
}

load_balancers() {
  if pgrep -x cloud-provider-kind >/dev/null 2>&1; then
    log "cloud-provider-kind runs"
    return
  fi
  mkdir -p "$CACHE"
  log "starting cloud-provider-kind (log: $CACHE/cloud-provider-kind.log)"
  nohup cloud-provider-kind >"$CACHE/cloud-provider-kind.log" 2>&1 &
}

repos() {
  helm repo add nvidia https://helm.ngc.nvidia.com/nvidia >/dev/null 2>&1 || true
  helm repo add prometheus-community https://prometheus-community.github.io/helm-charts >/dev/null 2>&1 || true
  helm repo add metrics-server https://kubernetes-sigs.github.io/metrics-server/ >/dev/null 2>&1 || true
  helm repo update >/dev/null
}

monitoring() {
  log "kube-prometheus-stack (ServiceMonitors for Triton, DCGM-Exporter, loadgen, agent at 15 s)"
  h upgrade -i kube-prometheus-stack prometheus-community/kube-prometheus-stack -n monitoring --create-namespace \
    -f "$DEPLOY/monitoring/kube-prometheus-stack-values.yaml" --wait --timeout 15m
  k -n monitoring create configmap scalelab-dashboard --from-file=scalelab.json="$DEPLOY/grafana/scalelab-dashboard.json" \
    --dry-run=client -o yaml | k apply -f -
  k -n monitoring label configmap scalelab-dashboard grafana_dashboard=1 --overwrite
}

gpu_operator() {
  log "GPU Operator (host driver, CDI, time-slicing ×4, DCGM-Exporter every 5 s)"
  k create namespace gpu-operator --dry-run=client -o yaml | k apply -f -
  k label namespace gpu-operator pod-security.kubernetes.io/enforce=privileged --overwrite
  k apply -f "$DEPLOY/gpu-operator/time-slicing.yaml"
  h upgrade -i gpu-operator nvidia/gpu-operator -n gpu-operator -f "$DEPLOY/gpu-operator/values.yaml" --wait --timeout 20m
  log "waiting for the node to advertise nvidia.com/gpu"
  for _ in $(seq 1 60); do
    if k get nodes -o jsonpath='{range .items[*]}{.status.allocatable.nvidia\.com/gpu}{"\n"}{end}' | grep -qE '^[1-9]'; then
      k get nodes -o custom-columns='NODE:.metadata.name,GPUS:.status.allocatable.nvidia\.com/gpu'
      return
    fi
    sleep 10
  done
  die "no node advertises nvidia.com/gpu after 10 minutes: kubectl -n gpu-operator get pods"
}

metrics() {
  log "metrics-server (--kubelet-insecure-tls) and prometheus-adapter (queue time, GPU utilisation)"
  h upgrade -i metrics-server metrics-server/metrics-server -n kube-system -f "$DEPLOY/metrics-server/values.yaml" --wait
  h upgrade -i prometheus-adapter prometheus-community/prometheus-adapter -n monitoring \
    -f "$DEPLOY/monitoring/prometheus-adapter-values.yaml" --wait
}

triton() {
  local model="$DEPLOY/triton/model-repository/mobilenetv4/1/model.onnx"
  if [ ! -f "$model" ]; then
    die "no $model: export it first (python3 deploy/triton/export_mobilenetv4.py deploy/triton/model-repository), then rerun"
  fi
  log "Triton serving MobileNetV4"
  k apply -f "$DEPLOY/triton/triton.yaml"
  k -n inference rollout status deployment/triton-mobilenetv4 --timeout 15m
}

agent() {
  log "building scalelab:dev and loading it into the cluster"
  docker build -f "$DEPLOY/agent/Dockerfile" -t scalelab:dev "$REPO_ROOT"
  kind load docker-image scalelab:dev --name "$CLUSTER"
  k -n inference create configmap scalelab-agent-config --from-file=agent.yaml="$DEPLOY/agent/agent.yaml" \
    --dry-run=client -o yaml | k apply -f -
  k -n inference create configmap scalelab-checkpoints --from-file=ppo-seed.json="$REPO_ROOT/configs/checkpoints/ppo-seed.json" \
    --dry-run=client -o yaml | k apply -f -
  k apply -f "$DEPLOY/agent/rbac.yaml" -f "$DEPLOY/agent/agent-deployment.yaml"
  k -n inference rollout status deployment/scalelab-agent --timeout 5m
}

cluster
load_balancers
repos
monitoring
gpu_operator
metrics
triton
if [ "$AGENT" = 1 ]; then agent; fi
log "done. Prometheus: $(k -n monitoring get svc kube-prometheus-stack-prometheus -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null || true):9090," \
  "Grafana: $(k -n monitoring get svc kube-prometheus-stack-grafana -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null || true) (admin/scalelab)," \
  "Triton: $(k -n inference get svc triton-mobilenetv4 -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null || true):8000"
