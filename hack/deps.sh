#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian machine: Go (if absent) and the
# node tools the real-kernel tests drive (iperf3, iptables, conntrack, iproute2, ethtool),
# and shellcheck, which actionlint (make lint) runs on the workflows' scripts.
# Safe to run again: it installs only what is missing.
set -euo pipefail

need=()
for pair in iperf3:iperf3 iptables:iptables conntrack:conntrack ip:iproute2 ethtool:ethtool jq:jq mmdebstrap:mmdebstrap shellcheck:shellcheck; do
  cmd=${pair%%:*} pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "hack/deps.sh: missing ${need[*]}; run as root or install them with: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo ">> installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Go: the machine's own /usr/local/go, or Debian's go fetching the pinned toolchain
# from the Go module proxy (GOTOOLCHAIN).
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  echo ">> go found at /usr/local/go/bin; add it to PATH" >&2
  exit 1
fi
if ! command -v go >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "hack/deps.sh: no go on PATH; install Go 1.26 or run as root" >&2; exit 1; }
  echo ">> installing Debian's golang-go to bootstrap the Go 1.26 toolchain"
  apt-get install -y -qq golang-go >/dev/null
fi
echo ">> dependencies ready: $(go version)"
