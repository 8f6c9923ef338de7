package kind

import (
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/tunedcilium/tunedcilium/clusters"
)

func TestConfigKubeProxyReplacement(t *testing.T) {
	cfg, err := Config(clusters.Spec{Name: "tunedcilium-r1-seed", RunID: "r1", Nodes: 2, KubeProxy: false})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Networking.DisableDefaultCNI {
		t.Error("default CNI must be off: Cilium is the CNI")
	}
	if cfg.Networking.KubeProxyMode != "none" {
		t.Errorf("kube-proxy mode = %q, want none when Cilium replaces kube-proxy", cfg.Networking.KubeProxyMode)
	}
	if got := roles(cfg); got != "control-plane,worker" {
		t.Errorf("roles = %s, want control-plane,worker", got)
	}
	for _, n := range cfg.Nodes {
		if n.Image != DefaultNodeImage {
			t.Errorf("node image = %q, want the local node image %q", n.Image, DefaultNodeImage)
		}
		if n.Labels[clusters.LabelKey] != "r1" {
			t.Errorf("node labels = %v, want %s=r1", n.Labels, clusters.LabelKey)
		}
	}
	if cfg.Networking.PodSubnet != DefaultPodCIDR || cfg.Networking.ServiceSubnet != DefaultServiceCIDR {
		t.Errorf("subnets = %s/%s", cfg.Networking.PodSubnet, cfg.Networking.ServiceSubnet)
	}
}

func TestConfigWithKubeProxyAndWorkers(t *testing.T) {
	cfg, err := Config(clusters.Spec{Name: "base", Nodes: 4, KubeProxy: true, NodeImage: "example/node:v1", PodCIDR: "10.10.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Networking.KubeProxyMode != v1alpha4.IPTablesProxyMode {
		t.Errorf("kube-proxy mode = %q, want iptables when kube-proxy is kept", cfg.Networking.KubeProxyMode)
	}
	if got := roles(cfg); got != "control-plane,worker,worker,worker" {
		t.Errorf("roles = %s", got)
	}
	if cfg.Nodes[3].Image != "example/node:v1" || cfg.Networking.PodSubnet != "10.10.0.0/16" {
		t.Errorf("spec not honoured: image %s, pod subnet %s", cfg.Nodes[3].Image, cfg.Networking.PodSubnet)
	}
}

// The generated config must survive kind's own YAML form with the kubelet
// patch intact: a v1.34 kubelet on cgroup v1 hosts needs failCgroupV1: false.
func TestConfigKubeletPatchRoundTrip(t *testing.T) {
	cfg, err := Config(clusters.Spec{Name: "x", Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var back v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(raw, &back); err != nil {
		t.Fatalf("kind config does not round-trip: %v\n%s", err, raw)
	}
	if len(back.KubeadmConfigPatches) != 1 || !strings.Contains(back.KubeadmConfigPatches[0], "failCgroupV1: false") {
		t.Errorf("kubelet patch missing: %v", back.KubeadmConfigPatches)
	}
	var patch map[string]any
	if err := yaml.Unmarshal([]byte(back.KubeadmConfigPatches[0]), &patch); err != nil || patch["kind"] != "KubeletConfiguration" {
		t.Errorf("kubelet patch is not a KubeletConfiguration document: %v %v", patch, err)
	}
	if back.Kind != "Cluster" || back.APIVersion != "kind.x-k8s.io/v1alpha4" {
		t.Errorf("type meta = %s/%s", back.APIVersion, back.Kind)
	}
}

func TestDefaults(t *testing.T) {
	s := WithDefaults(clusters.Spec{RunID: "20261125-abc"})
	if s.Name != "tunedcilium-20261125-abc" || s.Nodes != DefaultNodes || s.NodeImage != DefaultNodeImage {
		t.Errorf("defaults = %+v", s)
	}
	if NetworkName(s.Name) != "tunedcilium-tunedcilium-20261125-abc" || ControlPlaneContainer("c") != "c-control-plane" {
		t.Error("names")
	}
}

func TestConfigRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		spec clusters.Spec
		want string
	}{
		{clusters.Spec{Name: "Bad_Name", Nodes: 2}, `cluster name "Bad_Name"`},
		{clusters.Spec{Name: "ok", Nodes: -1}, "nodes=-1"},
		{clusters.Spec{Name: "ok", Nodes: 11}, "nodes=11"},
		{clusters.Spec{Name: "ok", Nodes: 2, MTU: 100}, "mtu=100"},
		{clusters.Spec{Name: "ok", Nodes: 2, PodCIDR: "10.0.0.0"}, `pod CIDR "10.0.0.0"`},
		{clusters.Spec{Name: "ok", Nodes: 2, ServiceCIDR: "fd00::/108"}, `service CIDR "fd00::/108"`},
	} {
		_, err := Config(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Config(%+v) error = %v, want one naming %q", tc.spec, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
	}
}

func roles(cfg *v1alpha4.Cluster) string {
	var r []string
	for _, n := range cfg.Nodes {
		r = append(r, string(n.Role))
	}
	return strings.Join(r, ",")
}
