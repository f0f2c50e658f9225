#!/usr/bin/env bash
# Installs what scalelab's real-cluster stack needs on an Ubuntu 24.04 workstation whose
# NVIDIA driver is already installed on the host: Docker Engine, the NVIDIA Container
# Toolkit (configured for Docker, CDI and nvkind's volume-mount device injection), kind,
# nvkind, helm, kubectl and cloud-provider-kind.
#
#   deploy/install.sh            # install what is missing
#   deploy/install.sh --check    # only report what is present and what is missing
#
# Idempotent: every step checks first and does nothing when its tool is present (and, for
# the container toolkit, already configured). It never installs or changes the host's
# NVIDIA driver: it only checks that `nvidia-smi` works and says how to install one if not.
# Versions can be pinned through the environment (KIND_VERSION, KUBECTL_VERSION,
# HELM_VERSION, NVKIND_VERSION, CLOUD_PROVIDER_KIND_VERSION). Next: deploy/up.sh.
set -euo pipefail

KIND_VERSION="${KIND_VERSION:-v0.30.0}"
KUBECTL_VERSION="${KUBECTL_VERSION:-v1.36.3}"
HELM_VERSION="${HELM_VERSION:-v3.19.0}"
NVKIND_VERSION="${NVKIND_VERSION:-latest}"
CLOUD_PROVIDER_KIND_VERSION="${CLOUD_PROVIDER_KIND_VERSION:-latest}"
BIN_DIR="${BIN_DIR:-/usr/local/bin}"

CHECK_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --check) CHECK_ONLY=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MISSING=()

log() { printf '[install] %s\n' "$*"; }
warn() { printf '[install][warn] %s\n' "$*" >&2; }
die() { printf '[install][error] %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# act runs a step unless --check: then it records the step as missing.
act() {
  local what="$1"
  shift
  if [ "$CHECK_ONLY" = 1 ]; then
    MISSING+=("$what")
    log "missing: $what"
    return 0
  fi
  log "installing $what"
  "$@"
}

arch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) die "unsupported architecture $(uname -m)" ;;
  esac
}

check_os() {
  [ "$(uname -s)" = Linux ] || die "Linux only"
  if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    . /etc/os-release
    if [ "${ID:-}" != ubuntu ] || [ "${VERSION_ID:-}" != "24.04" ]; then
      warn "written for Ubuntu 24.04, found ${PRETTY_NAME:-unknown}; continuing"
    fi
  fi
}

apt_install() {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}

base_packages() {
  local need=()
  for p in ca-certificates curl gnupg tar; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    act "packages ${need[*]}" apt_install "${need[@]}"
  fi
}

# download URL DEST [SHA256-URL]: fetches a file, verifying its checksum when a URL for it
# is given (the first field of that file).
download() {
  local url="$1" dest="$2" sumurl="${3:-}"
  curl -fsSL --retry 3 -o "$dest" "$url"
  if [ -n "$sumurl" ]; then
    local want
    want="$(curl -fsSL --retry 3 "$sumurl" | awk '{print $1}')"
    echo "$want  $dest" | sha256sum -c --quiet - || die "checksum mismatch for $url"
  fi
}

# ---- the host driver: checked, never installed ----
check_driver() {
  if have nvidia-smi && nvidia-smi -L >/dev/null 2>&1; then
    log "host NVIDIA driver: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n1)"
    return 0
  fi
  warn "no working host NVIDIA driver (nvidia-smi). This script does not install drivers; on Ubuntu:"
  warn "  sudo ubuntu-drivers install && sudo reboot"
  MISSING+=("host NVIDIA driver (install it yourself)")
}

# ---- Docker Engine ----
install_docker() {
  $SUDO install -m 0755 -d /etc/apt/keyrings
  curl -fsSL https://download.docker.com/linux/ubuntu/gpg | $SUDO gpg --dearmor --yes -o /etc/apt/keyrings/docker.gpg
  $SUDO chmod a+r /etc/apt/keyrings/docker.gpg
  local codename
  # shellcheck disable=SC1091
  codename="$(. /etc/os-release && echo "${UBUNTU_CODENAME:-$VERSION_CODENAME}")"
  echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.gpg] https://download.docker.com/linux/ubuntu ${codename} stable" |
    $SUDO tee /etc/apt/sources.list.d/docker.list >/dev/null
  apt_install docker-ce docker-ce-cli containerd.io docker-buildx-plugin
  $SUDO systemctl enable --now docker
  if [ -n "$SUDO" ] && ! id -nG "$USER" | tr ' ' '\n' | grep -qx docker; then
    $SUDO usermod -aG docker "$USER"
    warn "added $USER to the docker group: log in again (or run 'newgrp docker') before deploy/up.sh"
  fi
}

docker_step() {
  if have docker; then
    log "docker: $(docker --version)"
  else
    act "Docker Engine" install_docker
  fi
}

# ---- NVIDIA Container Toolkit ----
install_toolkit() {
  curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey |
    $SUDO gpg --dearmor --yes -o /usr/share/keyrings/nvidia-container-toolkit-keyring.gpg
  curl -fsSL https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list |
    sed 's#deb https://#deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://#g' |
    $SUDO tee /etc/apt/sources.list.d/nvidia-container-toolkit.list >/dev/null
  apt_install nvidia-container-toolkit
}

toolkit_configured() {
  grep -q '"default-runtime": *"nvidia"' /etc/docker/daemon.json 2>/dev/null &&
    grep -Eq '^ *accept-nvidia-visible-devices-as-volume-mounts *= *true' /etc/nvidia-container-runtime/config.toml 2>/dev/null
}

configure_toolkit() {
  $SUDO nvidia-ctk runtime configure --runtime=docker --set-as-default --cdi.enabled
  $SUDO nvidia-ctk config --set accept-nvidia-visible-devices-as-volume-mounts=true --in-place
  $SUDO systemctl restart docker
}

toolkit_step() {
  if have nvidia-ctk; then
    log "nvidia-ctk: $(nvidia-ctk --version | head -n1)"
  else
    act "NVIDIA Container Toolkit" install_toolkit
  fi
  if toolkit_configured; then
    log "container toolkit: Docker's default runtime is nvidia, volume-mount device injection on"
  else
    act "container toolkit configuration (Docker default runtime nvidia, CDI, volume-mount devices)" configure_toolkit
  fi
}

verify_gpu_in_docker() {
  [ "$CHECK_ONLY" = 1 ] && return 0
  have docker && have nvidia-smi || return 0
  if docker run --rm -v /dev/null:/var/run/nvidia-container-devices/all ubuntu:24.04 nvidia-smi -L >/dev/null 2>&1; then
    log "a container sees the GPU through volume-mount injection (what nvkind uses)"
  else
    warn "a container does not see the GPU; check 'docker run --rm -v /dev/null:/var/run/nvidia-container-devices/all ubuntu:24.04 nvidia-smi -L'"
  fi
}

# ---- binaries: kind, kubectl, helm ----
install_kind() {
  local tmp
  tmp="$(mktemp)"
  download "https://kind.sigs.k8s.io/dl/${KIND_VERSION}/kind-linux-$(arch)" "$tmp" \
    "https://kind.sigs.k8s.io/dl/${KIND_VERSION}/kind-linux-$(arch).sha256sum"
  $SUDO install -m 0755 "$tmp" "$BIN_DIR/kind"
  rm -f "$tmp"
}

install_kubectl() {
  local tmp
  tmp="$(mktemp)"
  download "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/$(arch)/kubectl" "$tmp" \
    "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/$(arch)/kubectl.sha256"
  $SUDO install -m 0755 "$tmp" "$BIN_DIR/kubectl"
  rm -f "$tmp"
}

install_helm() {
  local tmp dir
  tmp="$(mktemp)"
  dir="$(mktemp -d)"
  download "https://get.helm.sh/helm-${HELM_VERSION}-linux-$(arch).tar.gz" "$tmp" \
    "https://get.helm.sh/helm-${HELM_VERSION}-linux-$(arch).tar.gz.sha256sum"
  tar -xzf "$tmp" -C "$dir"
  $SUDO install -m 0755 "$dir/linux-$(arch)/helm" "$BIN_DIR/helm"
  rm -rf "$tmp" "$dir"
}

binary_step() {
  local name="$1" installer="$2" version_cmd="$3"
  if have "$name"; then
    log "$name: $($version_cmd 2>/dev/null | head -n1)"
  else
    act "$name" "$installer"
  fi
}

# ---- Go tools: nvkind, cloud-provider-kind ----
go_install() {
  "$REPO_ROOT/scripts/ensure-go.sh"
  local gobin
  gobin="$(go env GOPATH)/bin"
  GOFLAGS='' go install "$1"
  $SUDO install -m 0755 "$gobin/$(basename "${1%@*}")" "$BIN_DIR/"
}

install_nvkind() { go_install "github.com/NVIDIA/nvkind/cmd/nvkind@${NVKIND_VERSION}"; }
install_cpk() { go_install "sigs.k8s.io/cloud-provider-kind@${CLOUD_PROVIDER_KIND_VERSION}"; }

main() {
  check_os
  base_packages
  check_driver
  docker_step
  toolkit_step
  verify_gpu_in_docker
  binary_step kind install_kind "kind version"
  binary_step kubectl install_kubectl "kubectl version --client"
  binary_step helm install_helm "helm version --short"
  binary_step nvkind install_nvkind "echo installed"
  binary_step cloud-provider-kind install_cpk "echo installed"
  if [ "${#MISSING[@]}" -gt 0 ]; then
    log "missing: ${#MISSING[@]} item(s):"
    printf '  - %s\n' "${MISSING[@]}"
    [ "$CHECK_ONLY" = 1 ] && exit 1
  else
    log "everything is in place; next: deploy/up.sh"
  fi
}

main
