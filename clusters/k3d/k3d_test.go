package k3d

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tunedcilium/tunedcilium/clusters"
)

// localImage returns the first of candidates present in the local Docker
// engine, or skips the test saying why.
func localImage(t *testing.T, candidates ...string) string {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker CLI on this machine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}").Output()
	if err != nil {
		t.Skipf("Docker engine not reachable (%v): start it with `make env`", err)
	}
	have := strings.Fields(string(out))
	for _, c := range candidates {
		for _, h := range have {
			if h == c || h == "docker.io/"+c || strings.TrimPrefix(c, "docker.io/") == h {
				return h
			}
		}
	}
	return ""
}

// TestCiliumMountsScriptInAContainer runs the entrypoint script the nodes
// get, twice (a node restart), in a privileged container on this kernel and
// reads /proc/self/mountinfo: bpffs on /sys/fs/bpf and cgroup2 on
// /run/cilium/cgroupv2, each mounted once and shared.
func TestCiliumMountsScriptInAContainer(t *testing.T) {
	candidates := []string{DefaultImage, "localhost/tunedcilium/rootfs-nettools:bookworm", "localhost/tunedcilium/rootfs-node:bookworm"}
	image := localImage(t, candidates...)
	if image == "" {
		t.Skipf("none of %v is in the local Docker engine (`make images` builds the rootfs images)", candidates)
	}
	script := filepath.Join(t.TempDir(), "cilium-mounts.sh")
	if err := os.WriteFile(script, ciliumMounts, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--privileged", "--network", "none", "--tmpfs", "/run",
		"-v", script+":/cilium-mounts.sh:ro", "--entrypoint", "/bin/sh", image,
		"-c", "/bin/sh /cilium-mounts.sh && /bin/sh /cilium-mounts.sh && cat /proc/self/mountinfo").CombinedOutput()
	if err != nil {
		t.Fatalf("docker run %s: %v\n%s", image, err, out)
	}
	for _, m := range []struct{ point, fstype string }{{"/sys/fs/bpf", "bpf"}, {"/run/cilium/cgroupv2", "cgroup2"}} {
		re := regexp.MustCompile(`(?m)^\S+ \S+ \S+ / ` + regexp.QuoteMeta(m.point) + ` \S+ (.*?) - ` + m.fstype + ` `)
		found := re.FindAllStringSubmatch(string(out), -1)
		if len(found) != 1 {
			t.Errorf("%s: %d %s mounts, want exactly 1:\n%s", m.point, len(found), m.fstype, out)
			continue
		}
		if !strings.Contains(found[0][1], "shared:") {
			t.Errorf("%s is mounted but not shared (optional fields %q)", m.point, found[0][1])
		}
	}
}

// TestCreateRealCluster creates a 2-node k3d cluster ready for Cilium and
// deletes it. It needs a k3s node image in the local Docker engine: none can
// be pulled or built in this lab (no registry; github.com/k3s-io/k3s is not
// served by the Go module proxy), so here it skips.
func TestCreateRealCluster(t *testing.T) {
	image := os.Getenv("TUNEDCILIUM_K3S_IMAGE")
	if image == "" {
		image = DefaultImage
	}
	if localImage(t, image) == "" {
		t.Skipf("k3s node image %s is not in the local Docker engine, and this lab can neither pull it (no registry) nor build it (github.com/k3s-io/k3s is not served by the Go module proxy); set TUNEDCILIUM_K3S_IMAGE to a local k3s image", image)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p := &Provider{Log: os.Stderr, StateDir: t.TempDir()}
	spec := clusters.Spec{Name: "tc-k3d-test", RunID: "test-k3d", Nodes: 2, NodeImage: image, MTU: 9000}
	c, err := p.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Delete(context.Background()); err != nil {
			t.Error(err)
		}
		left, err := p.Leftovers(context.Background())
		if err != nil || len(left) != 0 {
			t.Errorf("leftovers after Delete: %v %v", left, err)
		}
	}()
	left, err := p.Leftovers(ctx)
	if err != nil || len(left) != 1 || left[0] != spec.Name {
		t.Errorf("Leftovers = %v, %v; want [%s]", left, err, spec.Name)
	}
	host, port := c.APIServer()
	if host == "" || port != 6443 {
		t.Errorf("API server %s:%d", host, port)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 {
		t.Fatalf("nodes = %+v", nodes)
	}
	for _, n := range nodes {
		if n.Container == "" || n.InternalIP == "" {
			t.Errorf("node %+v lacks container or IP", n)
		}
		out, err := exec.CommandContext(ctx, "docker", "exec", n.Container, "sh", "-c", "grep -E ' /sys/fs/bpf | /run/cilium/cgroupv2 ' /proc/self/mountinfo; cat /sys/class/net/eth0/mtu").CombinedOutput()
		if err != nil || strings.Count(string(out), "shared:") != 2 || !strings.Contains(string(out), "9000") {
			t.Errorf("node %s mounts/MTU: %v\n%s", n.Name, err, out)
		}
	}
}
