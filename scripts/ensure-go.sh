#!/usr/bin/env bash
# Makes sure a Go toolchain that can build scalelab is on this machine. scalelab needs Go
# 1.26; any Go ≥ 1.21 fetches the exact toolchain named in go.mod from the Go module proxy by
# itself (GOTOOLCHAIN=auto), so on a fresh Debian/Ubuntu machine installing the
# distribution's Go is enough. Idempotent: does nothing when Go is present.
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin"
if command -v go >/dev/null 2>&1; then
  exit 0
fi
echo "scalelab: no Go toolchain found; installing the distribution's Go (it fetches Go 1.26 itself)" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
# Ubuntu 24.04 ships Go 1.22 as golang-go; Debian 12 ships 1.19, too old to fetch toolchains,
# so prefer the newest golang-1.2x package available.
pkg=$(apt-cache pkgnames golang-1.2 2>/dev/null | grep -E '^golang-1\.(2[1-9])-go$' | sort -V | tail -n1 || true)
if [ -n "$pkg" ]; then
  $SUDO apt-get install -y -qq "$pkg"
  ver=${pkg#golang-}; ver=${ver%-go}
  $SUDO ln -sf "/usr/lib/go-$ver/bin/go" /usr/local/bin/go
else
  $SUDO apt-get install -y -qq golang-go
fi
go version
