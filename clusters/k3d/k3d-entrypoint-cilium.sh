#!/bin/sh
# Written by tunedcilium into every k3s node; k3d's entrypoint runs it
# before k3s. Cilium needs the BPF filesystem and a cgroup v2 hierarchy in
# the node, as shared mounts so the agent pod's bidirectional mounts
# propagate (k3d issue #363). Safe to run again when a node restarts.
set -o errexit
set -o nounset

echo "[$(date -Iseconds)] [tunedcilium] Cilium mounts..."
mount --make-rshared /

if ! grep -q ' /sys/fs/bpf bpf ' /proc/mounts; then
  mount bpffs -t bpf /sys/fs/bpf
fi
mount --make-shared /sys/fs/bpf

mkdir -p /run/cilium/cgroupv2
if ! grep -q ' /run/cilium/cgroupv2 cgroup2 ' /proc/mounts; then
  mount -t cgroup2 none /run/cilium/cgroupv2
fi
mount --make-shared /run/cilium/cgroupv2/

echo "[$(date -Iseconds)] [tunedcilium] Cilium mounts done"
