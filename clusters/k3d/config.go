package k3d

import (
	"context"
	_ "embed"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/k3d-io/k3d/v5/pkg/actions"
	k3dconfig "github.com/k3d-io/k3d/v5/pkg/config"
	configtypes "github.com/k3d-io/k3d/v5/pkg/config/types"
	"github.com/k3d-io/k3d/v5/pkg/config/v1alpha5"
	"github.com/k3d-io/k3d/v5/pkg/runtimes"
	k3dtypes "github.com/k3d-io/k3d/v5/pkg/types"
	"github.com/k3d-io/k3d/v5/pkg/types/fixes"

	"github.com/tunedcilium/tunedcilium/clusters"
)

// Defaults of the k3d provider: k3s' own CIDRs, and a k3s release of the
// Kubernetes minor the rest of the suite uses.
const (
	DefaultImage       = "docker.io/rancher/k3s:v1.34.4-k3s1"
	DefaultPodCIDR     = "10.42.0.0/16"
	DefaultServiceCIDR = "10.43.0.0/16"
)

// ciliumMountsPath is the entrypoint script k3d's own entrypoint
// (/bin/k3d-entrypoint.sh) runs before k3s, like its built-in fixes.
const ciliumMountsPath = "/bin/k3d-entrypoint-cilium.sh"

// ciliumMounts makes the mounts Cilium needs inside a k3s node container, as
// shared mounts so that the agent pod's bidirectional mounts propagate: the
// BPF filesystem at /sys/fs/bpf and cgroup v2 at /run/cilium/cgroupv2 (the
// fix from k3d issue #363). Idempotent: a restarted node runs it again.
//
//go:embed k3d-entrypoint-cilium.sh
var ciliumMounts []byte

// nodeFilterAll selects every k3s node (the load balancer is disabled).
func nodeFilterAll(agents int) []string {
	if agents == 0 {
		return []string{"server:*"}
	}
	return []string{"server:*", "agent:*"}
}

// K3sServerArgs are the k3s server flags that leave the cluster to Cilium:
// no flannel, no k3s network policy controller, no servicelb or traefik, no
// kube-proxy under kube-proxy replacement, the pod and service CIDRs set.
func K3sServerArgs(spec clusters.Spec) []string {
	args := []string{
		"--flannel-backend=none",
		"--disable-network-policy",
		"--disable=servicelb",
		"--disable=traefik",
		"--cluster-cidr=" + spec.PodCIDR,
		"--service-cidr=" + spec.ServiceCIDR,
	}
	if !spec.KubeProxy {
		args = append(args, "--disable-kube-proxy")
	}
	return args
}

// K3sNodeArgs are flags for every k3s node (server and agent): the kubelet
// must accept this lab's cgroup v1 hosts.
func K3sNodeArgs() []string {
	return []string{"--kubelet-arg=fail-cgroupv1=false"}
}

// Validate rejects a spec the provider cannot honour, naming the input.
func Validate(spec clusters.Spec) error {
	if spec.Name == "" {
		return fmt.Errorf("k3d cluster: empty name")
	}
	if spec.Nodes < 1 {
		return fmt.Errorf("k3d cluster %s: %d nodes: need at least 1 (one server, the rest agents)", spec.Name, spec.Nodes)
	}
	switch img := spec.NodeImage; {
	case img == "latest" || img == "stable" || strings.HasPrefix(img, "+"):
		return fmt.Errorf("k3d cluster %s: node image %q makes k3d look the k3s version up on the network: pass a pinned image such as %s", spec.Name, img, DefaultImage)
	}
	for what, cidr := range map[string]string{"pod CIDR": spec.PodCIDR, "service CIDR": spec.ServiceCIDR} {
		if cidr == "" {
			continue
		}
		if _, err := netip.ParsePrefix(cidr); err != nil {
			return fmt.Errorf("k3d cluster %s: %s %q: %v", spec.Name, what, cidr, err)
		}
	}
	if spec.MTU != 0 && (spec.MTU < 576 || spec.MTU > 65535) {
		return fmt.Errorf("k3d cluster %s: MTU %d out of range 576-65535", spec.Name, spec.MTU)
	}
	if spec.XDP {
		return fmt.Errorf("k3d cluster %s: XDP needs the node veths prepared on the host, which the k3d provider does not do: run XDP profiles on kind", spec.Name)
	}
	return nil
}

// SimpleConfig is k3d's simple configuration for a spec (after Defaults):
// one server and Nodes-1 agents on the given Docker network, the API on
// 127.0.0.1:apiPort, no load balancer and no image volume (their helper
// images cannot be pulled in an air-gapped lab; images are streamed into the
// nodes instead), the run label on every node, kubeconfig left alone.
func SimpleConfig(spec clusters.Spec, network string, apiPort int) v1alpha5.SimpleConfig {
	agents := spec.Nodes - 1
	all := nodeFilterAll(agents)
	var extra []v1alpha5.K3sArgWithNodeFilters
	for _, a := range K3sServerArgs(spec) {
		extra = append(extra, v1alpha5.K3sArgWithNodeFilters{Arg: a, NodeFilters: []string{"server:*"}})
	}
	for _, a := range K3sNodeArgs() {
		extra = append(extra, v1alpha5.K3sArgWithNodeFilters{Arg: a, NodeFilters: all})
	}
	return v1alpha5.SimpleConfig{
		TypeMeta:   configtypes.TypeMeta{Kind: "Simple", APIVersion: v1alpha5.ApiVersion},
		ObjectMeta: configtypes.ObjectMeta{Name: spec.Name},
		Servers:    1,
		Agents:     agents,
		Image:      spec.NodeImage,
		Network:    network,
		ExposeAPI:  v1alpha5.SimpleExposureOpts{Host: "127.0.0.1", HostIP: "127.0.0.1", HostPort: strconv.Itoa(apiPort)},
		Options: v1alpha5.SimpleConfigOptions{
			K3dOptions: v1alpha5.SimpleConfigOptionsK3d{
				Wait:                true,
				DisableLoadbalancer: true,
				DisableImageVolume:  true,
			},
			K3sOptions: v1alpha5.SimpleConfigOptionsK3s{ExtraArgs: extra},
			KubeconfigOptions: v1alpha5.SimpleConfigOptionsKubeconfig{
				UpdateDefaultKubeconfig: false,
				SwitchCurrentContext:    false,
			},
			Runtime: v1alpha5.SimpleConfigOptionsRuntime{
				Labels: []v1alpha5.LabelWithNodeFilters{{Label: clusters.LabelKey + "=" + spec.RunID, NodeFilters: all}},
			},
		},
	}
}

// ClusterConfig turns the simple configuration into k3d's full cluster
// configuration with k3d's own transform, processing and validation, then
// adds to every k3s node the entrypoint that makes Cilium's mounts. The
// runtime is only recorded in the node hooks here (the load balancer and
// ports, which would query it, are off).
func ClusterConfig(ctx context.Context, runtime runtimes.Runtime, simple v1alpha5.SimpleConfig) (*v1alpha5.ClusterConfig, error) {
	if err := k3dconfig.ProcessSimpleConfig(&simple); err != nil {
		return nil, fmt.Errorf("k3d config %s: %w", simple.Name, err)
	}
	cfg, err := k3dconfig.TransformSimpleToClusterConfig(ctx, runtime, simple, "")
	if err != nil {
		return nil, fmt.Errorf("k3d config %s: %w", simple.Name, err)
	}
	cfg, err = k3dconfig.ProcessClusterConfig(*cfg)
	if err != nil {
		return nil, fmt.Errorf("k3d config %s: %w", simple.Name, err)
	}
	if err := k3dconfig.ValidateClusterConfig(ctx, runtime, *cfg); err != nil {
		return nil, fmt.Errorf("k3d config %s: %w", simple.Name, err)
	}
	for _, node := range cfg.Nodes {
		if node.Role != k3dtypes.ServerRole && node.Role != k3dtypes.AgentRole {
			continue
		}
		// k3d writes its umbrella entrypoint only when one of its own fixes
		// is on (K3D_FIX_*); write it here too (same content) so the Cilium
		// mounts do not depend on the environment.
		node.K3dEntrypoint = true
		node.HookActions = append(node.HookActions,
			k3dtypes.NodeHook{Stage: k3dtypes.LifecycleStagePreStart, Action: actions.WriteFileAction{
				Runtime: runtime, Content: fixes.K3DEntrypoint, Dest: "/bin/k3d-entrypoint.sh", Mode: 0o744,
				Description: "Write k3d's entrypoint (runs /bin/k3d-entrypoint-*.sh before k3s)",
			}},
			k3dtypes.NodeHook{Stage: k3dtypes.LifecycleStagePreStart, Action: actions.WriteFileAction{
				Runtime: runtime, Content: ciliumMounts, Dest: ciliumMountsPath, Mode: 0o744,
				Description: "Write tunedcilium's entrypoint: shared bpffs and cgroup v2 mounts for Cilium",
			}},
		)
	}
	return cfg, nil
}
