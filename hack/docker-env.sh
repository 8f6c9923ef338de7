#!/usr/bin/env bash
# hack/docker-env.sh: this lab's Docker set-up, run by `make env` (root, idempotent).
#
# Why: this machine's capability bounding set lacks CAP_SYS_RESOURCE, so Docker's
# `--privileged` (which asks for every capability) fails with "unable to apply caps:
# operation not permitted", and kind and k3d start their nodes privileged. The fix is
# a wrapper registered as Docker's default OCI runtime (hack/runc-wrap): it drops
# CAP_SYS_RESOURCE from each container spec and clamps a negative oomScoreAdj to 0,
# then execs the real runc. See docs/airgapped.md and README "Environment (this lab)".
#
# What it does, each step only when needed:
#   1. installs docker.io and jq (apt) if absent;
#   2. installs the wrapper to $WRAP_PATH;
#   3. registers it in /etc/docker/daemon.json (`runtimes` + `default-runtime`);
#   4. (re)starts dockerd so it runs with that default runtime (no systemd on this
#      host: dockerd runs in the background, log in $DOCKERD_LOG);
#   5. raises the inotify limits (kubelet, systemd and Cilium in nested nodes run out
#      of the defaults; cilium-cli #1415).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WRAP_PATH=${WRAP_PATH:-/usr/local/libexec/tunedcilium/runc-wrap}
RUNTIME_NAME=runc-wrap
DAEMON_JSON=/etc/docker/daemon.json
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/tunedcilium-dockerd.log}

log() { echo ">> docker-env: $*"; }
die() { echo "hack/docker-env.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and restarts dockerd); run: sudo make env"

# 1. packages
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v jq >/dev/null 2>&1 || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
REAL_RUNC=$(command -v runc || true)
[ -n "$REAL_RUNC" ] || die "runc not found after installing docker.io"

# 2. the wrapper (it execs /usr/sbin/runc, where Debian's runc lives)
[ -x /usr/sbin/runc ] || die "the wrapper execs /usr/sbin/runc, but runc is at $REAL_RUNC; install Debian's runc package"
if ! cmp -s "$REPO/hack/runc-wrap" "$WRAP_PATH" 2>/dev/null; then
  log "installing the runc wrapper to $WRAP_PATH"
  install -D -m 0755 "$REPO/hack/runc-wrap" "$WRAP_PATH"
fi

# 3. daemon.json: keep whatever else is there, set our runtime as the default
mkdir -p "$(dirname "$DAEMON_JSON")"
current='{}'
[ -s "$DAEMON_JSON" ] && current=$(cat "$DAEMON_JSON")
wanted=$(jq --arg n "$RUNTIME_NAME" --arg p "$WRAP_PATH" \
  '.runtimes[$n] = {path: $p} | ."default-runtime" = $n' <<<"$current") \
  || die "$DAEMON_JSON is not valid JSON; fix or remove it"
if [ "$(jq -S . <<<"$current")" != "$(jq -S . <<<"$wanted")" ]; then
  log "registering $RUNTIME_NAME as the default runtime in $DAEMON_JSON"
  printf '%s\n' "$wanted" >"$DAEMON_JSON"
fi

# 4. dockerd with that default runtime
docker_ready() { docker info >/dev/null 2>&1; }
default_runtime() { docker info --format '{{.DefaultRuntime}}' 2>/dev/null || true; }
if docker_ready && [ "$(default_runtime)" = "$RUNTIME_NAME" ]; then
  log "dockerd already runs with default runtime $RUNTIME_NAME"
else
  if docker_ready || [ -s /var/run/docker.pid ]; then
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      log "stopping dockerd (pid $pid) to restart it with $RUNTIME_NAME"
      kill "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$pid" 2>/dev/null && die "dockerd (pid $pid) did not stop within 30s"
    fi
  fi
  log "starting dockerd in the background (log: $DOCKERD_LOG)"
  nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  for i in $(seq 1 60); do
    docker_ready && break
    sleep 1
    [ "$i" = 60 ] && die "dockerd did not answer within 60s; see $DOCKERD_LOG"
  done
  [ "$(default_runtime)" = "$RUNTIME_NAME" ] || die "dockerd runs, but its default runtime is '$(default_runtime)', not $RUNTIME_NAME; see $DOCKERD_LOG"
  log "dockerd ready with default runtime $RUNTIME_NAME"
fi

# 5. inotify limits
raise() { # $1 key, $2 minimum
  local cur; cur=$(sysctl -n "$1")
  if [ "$cur" -lt "$2" ]; then log "sysctl $1=$2 (was $cur)"; sysctl -qw "$1=$2"; fi
}
raise fs.inotify.max_user_watches 524288
raise fs.inotify.max_user_instances 8192

log "ready: $(docker version --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}'), default runtime $(default_runtime)"
