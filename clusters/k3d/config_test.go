package k3d

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/k3d-io/k3d/v5/pkg/actions"
	"github.com/k3d-io/k3d/v5/pkg/runtimes"
	k3dtypes "github.com/k3d-io/k3d/v5/pkg/types"

	"github.com/tunedcilium/tunedcilium/clusters"
)

func testSpec(kubeProxy bool) clusters.Spec {
	return (&Provider{}).Defaults(clusters.Spec{Name: "tc-run1-kpr", RunID: "run1", Nodes: 3, KubeProxy: kubeProxy})
}

// TestClusterConfig builds the k3d configuration through k3d's own
// transform, processing and validation (no Docker needed: the load balancer
// and ports, which would query it, are off) and checks what the nodes get.
func TestClusterConfig(t *testing.T) {
	spec := testSpec(false)
	cfg, err := ClusterConfig(context.Background(), runtimes.Docker, SimpleConfig(spec, "k3d-tc-run1-kpr", 40123))
	if err != nil {
		t.Fatal(err)
	}

	if cfg.Name != "tc-run1-kpr" {
		t.Errorf("cluster name = %s", cfg.Name)
	}
	if cfg.Network.Name != "k3d-tc-run1-kpr" || !cfg.Network.External {
		t.Errorf("network = %+v, want the provider's network, used as external", cfg.Network)
	}
	if !cfg.ClusterCreateOpts.DisableLoadBalancer || cfg.ServerLoadBalancer != nil {
		t.Error("load balancer not disabled (its k3d-proxy image cannot be pulled here)")
	}
	if !cfg.ClusterCreateOpts.DisableImageVolume || !cfg.ClusterCreateOpts.WaitForServer {
		t.Errorf("create opts = %+v", cfg.ClusterCreateOpts)
	}
	if cfg.KubeAPI.Binding.HostIP != "127.0.0.1" || cfg.KubeAPI.Binding.HostPort != "40123" || cfg.KubeAPI.Host != "127.0.0.1" {
		t.Errorf("kube API exposure = %+v", cfg.KubeAPI)
	}
	if cfg.KubeconfigOpts.UpdateDefaultKubeconfig || cfg.KubeconfigOpts.SwitchCurrentContext {
		t.Error("the user's default kubeconfig must not be touched")
	}

	var servers, agents []*k3dtypes.Node
	for _, n := range cfg.Nodes {
		switch n.Role {
		case k3dtypes.ServerRole:
			servers = append(servers, n)
		case k3dtypes.AgentRole:
			agents = append(agents, n)
		default:
			t.Errorf("unexpected node %s with role %s", n.Name, n.Role)
		}
	}
	if len(servers) != 1 || len(agents) != 2 {
		t.Fatalf("%d servers, %d agents; want 1 and 2", len(servers), len(agents))
	}
	if servers[0].Name != "k3d-tc-run1-kpr-server-0" || agents[1].Name != "k3d-tc-run1-kpr-agent-1" {
		t.Errorf("node names %s, %s", servers[0].Name, agents[1].Name)
	}

	wantServerArgs := []string{
		"--flannel-backend=none", "--disable-network-policy", "--disable=servicelb", "--disable=traefik",
		"--cluster-cidr=10.42.0.0/16", "--service-cidr=10.43.0.0/16", "--disable-kube-proxy",
		"--kubelet-arg=fail-cgroupv1=false",
	}
	if !slices.Equal(servers[0].Args, wantServerArgs) {
		t.Errorf("server args = %q\nwant %q", servers[0].Args, wantServerArgs)
	}
	for _, a := range agents {
		if !slices.Equal(a.Args, []string{"--kubelet-arg=fail-cgroupv1=false"}) {
			t.Errorf("agent %s args = %q: server-only flags must stay on the server", a.Name, a.Args)
		}
	}

	for _, n := range append(servers, agents...) {
		if n.Image != DefaultImage {
			t.Errorf("node %s image = %s", n.Name, n.Image)
		}
		if n.RuntimeLabels[clusters.LabelKey] != "run1" {
			t.Errorf("node %s lacks the run label: %v", n.Name, n.RuntimeLabels)
		}
		if len(n.Volumes) != 0 {
			t.Errorf("node %s volumes = %v: no image volume, no host mounts expected", n.Name, n.Volumes)
		}
		if !n.K3dEntrypoint {
			t.Errorf("node %s does not run k3d's entrypoint: the Cilium mounts would not be made", n.Name)
		}
		files := map[string]actions.WriteFileAction{}
		for _, h := range n.HookActions {
			if w, ok := h.Action.(actions.WriteFileAction); ok && h.Stage == k3dtypes.LifecycleStagePreStart {
				files[w.Dest] = w
			}
		}
		script, ok := files[ciliumMountsPath]
		if !ok || script.Mode&0o100 == 0 {
			t.Errorf("node %s: %s missing or not executable (%v)", n.Name, ciliumMountsPath, script.Mode)
			continue
		}
		for _, want := range []string{"mount bpffs -t bpf /sys/fs/bpf", "mount --make-shared /sys/fs/bpf", "mount -t cgroup2 none /run/cilium/cgroupv2", "mount --make-shared /run/cilium/cgroupv2/"} {
			if !strings.Contains(string(script.Content), want) {
				t.Errorf("mount script lacks %q", want)
			}
		}
		if entry, ok := files["/bin/k3d-entrypoint.sh"]; !ok || !strings.Contains(string(entry.Content), "/bin/k3d-entrypoint-*.sh") {
			t.Errorf("node %s: k3d's umbrella entrypoint not written", n.Name)
		}
	}
}

func TestClusterConfigWithKubeProxyAndOneNode(t *testing.T) {
	spec := testSpec(true)
	spec.Nodes = 1
	spec.PodCIDR = "10.244.0.0/16"
	cfg, err := ClusterConfig(context.Background(), runtimes.Docker, SimpleConfig(spec, "k3d-x", 40000))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Nodes) != 1 {
		t.Fatalf("%d nodes", len(cfg.Nodes))
	}
	args := cfg.Nodes[0].Args
	if slices.Contains(args, "--disable-kube-proxy") {
		t.Error("kube-proxy disabled although the spec keeps it")
	}
	if !slices.Contains(args, "--cluster-cidr=10.244.0.0/16") {
		t.Errorf("args %q lack the pod CIDR", args)
	}
}

func TestNetworkCreateOptions(t *testing.T) {
	spec := testSpec(false)
	spec.MTU = 9000
	opts := NetworkCreateOptions(spec)
	if opts.Options["com.docker.network.driver.mtu"] != "9000" {
		t.Errorf("options = %v, want the bridge MTU 9000", opts.Options)
	}
	if opts.Labels[clusters.LabelKey] != "run1" || opts.Labels[networkClusterLabel] != "tc-run1-kpr" {
		t.Errorf("labels = %v", opts.Labels)
	}
	spec.MTU = 0
	if opts := NetworkCreateOptions(spec); len(opts.Options) != 0 {
		t.Errorf("MTU 0 set options %v", opts.Options)
	}
	if NetworkName("tc-run1-kpr") != "k3d-tc-run1-kpr" {
		t.Error(NetworkName("tc-run1-kpr"))
	}
}

func TestValidate(t *testing.T) {
	ok := testSpec(false)
	if err := Validate(ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mutate func(*clusters.Spec)
		want   string
	}{
		{func(s *clusters.Spec) { s.Nodes = 0 }, "need at least 1"},
		{func(s *clusters.Spec) { s.NodeImage = "latest" }, `node image "latest" makes k3d look the k3s version up on the network`},
		{func(s *clusters.Spec) { s.NodeImage = "+stable" }, "pass a pinned image"},
		{func(s *clusters.Spec) { s.PodCIDR = "10.42.0.0/33" }, `pod CIDR "10.42.0.0/33"`},
		{func(s *clusters.Spec) { s.MTU = 100 }, "MTU 100 out of range"},
		{func(s *clusters.Spec) { s.XDP = true }, "run XDP profiles on kind"},
	} {
		s := ok
		c.mutate(&s)
		if err := Validate(s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate: %v, want %q", err, c.want)
		}
	}
	// k3d's own validation: the name must be a valid host name.
	bad := ok
	bad.Name = "Not_A_Hostname"
	if _, err := ClusterConfig(context.Background(), runtimes.Docker, SimpleConfig(bad, "n", 1)); err == nil {
		t.Error("k3d accepted an invalid cluster name")
	}
}
