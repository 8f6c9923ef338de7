#!/usr/bin/env bash
# Builds the air-gapped agent and operator images of ANOTHER Cilium version,
# the old side of an upgrade run (--upgrade-from VERSION --images=local):
#
#   hack/build-cilium-version.sh v1.19.5
#   -> localhost/cilium/cilium:v1.19.5, localhost/cilium/operator-generic:v1.19.5
#
# It uses the project's own image builder (pkg/images) unchanged: the builder
# runs from a temporary copy of this checkout whose pkg/images/versions.go
# pins that version (and its commit time, for the agent's version string).
# The builder's cache (/var/cache/tunedcilium or $TUNEDCILIUM_CACHE) is
# shared; its source and binary dirs are per version. Needs what
# `make images` needs (make env; root).
set -euo pipefail
version=${1:?usage: hack/build-cilium-version.sh VERSION, e.g. v1.19.5}
[[ $version == v* ]] || version=v$version
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$PATH:/usr/local/go/bin"

if ! info=$(go mod download -json "github.com/cilium/cilium@$version"); then
  echo "hack/build-cilium-version.sh: github.com/cilium/cilium@$version cannot be downloaded through the Go module proxy; give a released version such as v1.19.5" >&2
  exit 2
fi
when=$(jq -r .Time < "$(jq -r .Info <<<"$info")")

work=$(mktemp -d /tmp/tunedcilium-build-XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$root" && git ls-files -z | xargs -0 cp --parents -t "$work")
versions="$work/pkg/images/versions.go"
sed -i -e "s|^\(\s*CiliumVersion = \)\"v[^\"]*\"|\1\"$version\"|" \
       -e "s|^\(\s*CiliumVersionTime = \)\"[^\"]*\"|\1\"$when\"|" "$versions"
if ! grep -q "CiliumVersion = \"$version\"" "$versions" || ! grep -q "CiliumVersionTime = \"$when\"" "$versions"; then
  echo "hack/build-cilium-version.sh: could not pin $version in pkg/images/versions.go (its constants changed shape?)" >&2
  exit 1
fi
echo ">> building Cilium $version agent and operator images (module time $when)"
cd "$work"
go run ./cmd/tunedcilium images build --only cilium,operator
docker image inspect "localhost/cilium/cilium:$version" "localhost/cilium/operator-generic:$version" --format '{{index .RepoTags 0}} {{.Id}}'
