#!/usr/bin/env bash
# Starts a bare Kubernetes API server on loopback -- etcd and kube-apiserver,
# no controllers, no nodes -- for the tests that need only the API (the
# cluster lease, the existing-cluster provider, Helm releases):
#
#   hack/local-apiserver.sh start DIR    # writes DIR/kubeconfig, DIR/*.pid
#   TUNEDCILIUM_KUBECONFIG=DIR/kubeconfig go test ./pkg/clusterlock/ ...
#   hack/local-apiserver.sh stop DIR
#
# The binaries come from `tunedcilium images build` (its cache holds etcd and
# kube-apiserver built from their Go modules), or ETCD=/KUBE_APISERVER= paths.
# Nothing listens beyond 127.0.0.1.
set -euo pipefail

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
cache=${TUNEDCILIUM_CACHE:-/var/cache/tunedcilium}
ETCD=${ETCD:-$cache/bin/etcd}
KUBE_APISERVER=${KUBE_APISERVER:-$(ls "$cache"/bin/kubernetes-*/kube-apiserver 2>/dev/null | head -1)}

stop() {
  for p in kube-apiserver etcd; do
    if [ -f "$dir/$p.pid" ]; then
      kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
      rm -f "$dir/$p.pid"
    fi
  done
}

case "$cmd" in
stop) stop; exit 0 ;;
start) ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

for b in "$ETCD" "$KUBE_APISERVER"; do
  [ -x "$b" ] || { echo "$0: no binary at '$b': run \`tunedcilium images build\` or set ETCD/KUBE_APISERVER" >&2; exit 1; }
done
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
trap 'echo "$0: failed; logs in $dir" >&2; stop' ERR

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)

"$ETCD" --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" --initial-cluster "default=http://127.0.0.1:$peer_port" \
  >"$dir/etcd.log" 2>&1 &
echo $! >"$dir/etcd.pid"

[ -f "$dir/sa.key" ] || openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$token,admin,admin,system:masters" >"$dir/tokens.csv"

"$KUBE_APISERVER" --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" --cert-dir "$dir/certs" \
  --token-auth-file "$dir/tokens.csv" --authorization-mode RBAC --allow-privileged=true \
  --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$dir/sa.key" \
  --service-account-signing-key-file "$dir/sa.key" --service-cluster-ip-range 10.96.0.0/16 \
  >"$dir/kube-apiserver.log" 2>&1 &
echo $! >"$dir/kube-apiserver.pid"

cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:$api_port", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: "$token"}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
EOF

start=$(date +%s)
until curl -ksf -H "Authorization: Bearer $token" "https://127.0.0.1:$api_port/readyz" >/dev/null 2>&1; do
  waited=$(( $(date +%s) - start ))
  if [ "$waited" -ge 60 ]; then
    echo "$0: kube-apiserver not ready after ${waited}s; see $dir/kube-apiserver.log" >&2
    stop; exit 1
  fi
  kill -0 "$(cat "$dir/kube-apiserver.pid")" 2>/dev/null || { echo "$0: kube-apiserver exited; see $dir/kube-apiserver.log" >&2; stop; exit 1; }
  echo "waiting for kube-apiserver on 127.0.0.1:$api_port (${waited}s)" >&2
  sleep 2
done
echo "API server ready: export TUNEDCILIUM_KUBECONFIG=$dir/kubeconfig"
