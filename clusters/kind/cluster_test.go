package kind

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/vishvananda/netlink"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/images"
)

// TestRealCluster creates a 2-node cluster from the local node image on a
// jumbo-MTU network with the XDP preparation, checks both nodes registered
// (NotReady: no CNI yet), loads an image into both, and deletes everything.
// It needs root, a Docker engine set up by `make env` and the node image
// from `make images`; it skips, saying which is missing, otherwise.
func TestRealCluster(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (Docker, netns, XDP on host veths)")
	}
	dc, err := dockerClient()
	if err != nil {
		t.Skipf("no Docker client: %v", err)
	}
	defer dc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := dc.Ping(ctx); err != nil {
		t.Skipf("no Docker engine answers (%v): run `make env`", err)
	}
	if _, err := dc.ImageInspect(ctx, images.NodeImage); err != nil {
		t.Skipf("node image %s is absent (%v): run `make images`", images.NodeImage, err)
	}

	runID := fmt.Sprintf("t%d", time.Now().Unix()%1000000)
	p := New(testWriter{t})
	start := time.Now()
	c, err := p.Create(ctx, clusters.Spec{Name: "tunedcilium-" + runID, RunID: runID, Nodes: 2, MTU: 9000, XDP: true})
	if err != nil {
		t.Fatal(err)
	}
	kc := c.(*Cluster)
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			if err := c.Delete(context.Background()); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	t.Logf("cluster created in %s", time.Since(start).Round(time.Second))

	// both nodes registered with the API server
	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Role != "control-plane" || nodes[1].Role != "worker" {
		t.Fatalf("nodes = %+v, want a control plane and a worker", nodes)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var registered []string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		registered = registered[:0]
		for _, n := range list.Items {
			registered = append(registered, n.Name)
			if n.Labels[clusters.LabelKey] != runID {
				t.Errorf("node %s labels %v lack %s=%s", n.Name, n.Labels, clusters.LabelKey, runID)
			}
		}
		if len(registered) == 2 {
			break
		}
	}
	slices.Sort(registered)
	if strings.Join(registered, ",") != nodes[0].Name+","+nodes[1].Name {
		t.Fatalf("registered nodes %v, want %s and %s", registered, nodes[0].Name, nodes[1].Name)
	}
	if host, port := c.APIServer(); host != nodes[0].Container || port != 6443 {
		t.Errorf("APIServer() = %s:%d", host, port)
	}

	// the node network has the asked MTU
	for _, n := range nodes {
		out := nodeExec(t, kc, n.Name, "cat", "/sys/class/net/eth0/mtu")
		if strings.TrimSpace(out) != "9000" {
			t.Errorf("node %s eth0 MTU = %q, want 9000", n.Name, out)
		}
	}

	// XDP preparation: a program on each host-side peer
	if got := kc.XDPPrepared(); len(got) != 2 {
		t.Errorf("XDP prepared on %v, want 2 host veths", got)
	}
	for _, x := range kc.xdp {
		link, err := netlink.LinkByIndex(x.ifindex)
		if err != nil {
			t.Fatal(err)
		}
		if link.Attrs().Xdp == nil || !link.Attrs().Xdp.Attached {
			t.Errorf("host veth %s has no XDP program attached", x.ifname)
		}
	}

	// leftovers see the cluster
	left, err := p.Leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(left, c.Name()) {
		t.Errorf("Leftovers() = %v, want it to list %s", left, c.Name())
	}

	// load an image into both nodes
	testRef := "localhost/tunedcilium/kind-load-test:" + runID
	if err := dc.ImageTag(ctx, images.PauseImage, testRef); err != nil {
		t.Fatalf("tag %s as %s: %v", images.PauseImage, testRef, err)
	}
	t.Cleanup(func() { dc.ImageRemove(context.Background(), testRef, image.RemoveOptions{}) })
	for _, n := range nodes {
		if strings.Contains(nodeExec(t, kc, n.Name, "ctr", "-n", "k8s.io", "images", "ls", "-q"), testRef) {
			t.Fatalf("node %s has %s before loading: the check proves nothing", n.Name, testRef)
		}
	}
	if err := c.LoadImages(ctx, testRef); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if !strings.Contains(nodeExec(t, kc, n.Name, "ctr", "-n", "k8s.io", "images", "ls", "-q"), testRef) {
			t.Errorf("node %s lacks %s after LoadImages", n.Name, testRef)
		}
	}
	if err := c.LoadImages(ctx, "localhost/tunedcilium/does-not-exist:v0"); err == nil || !strings.Contains(err.Error(), "make images") {
		t.Errorf("loading a missing image: error %v, want one naming the fix", err)
	}

	// undo XDP, then delete: nothing left
	veths := kc.xdp
	if err := kc.undoXDP(); err != nil {
		t.Fatal(err)
	}
	for _, x := range veths {
		link, err := netlink.LinkByIndex(x.ifindex)
		if err == nil && link.Attrs().Xdp != nil && link.Attrs().Xdp.Attached {
			t.Errorf("host veth %s still has an XDP program after undo", x.ifname)
		}
	}
	deleted = true
	if err := c.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	ctrs, err := dc.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "io.x-k8s.kind.cluster="+c.Name()))})
	if err != nil || len(ctrs) != 0 {
		t.Errorf("after Delete: %d node containers left (%v)", len(ctrs), err)
	}
	nets, err := dc.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", kc.Network()))})
	if err != nil || len(nets) != 0 {
		t.Errorf("after Delete: network %s left (%v)", kc.Network(), err)
	}
	if _, err := os.Stat(c.KubeconfigPath()); !os.IsNotExist(err) {
		t.Errorf("after Delete: kubeconfig %s left", c.KubeconfigPath())
	}
}

func nodeExec(t *testing.T, c *Cluster, node string, args ...string) string {
	t.Helper()
	kn, err := c.p.kind().ListNodes(c.Name())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range kn {
		if n.String() == node {
			var out bytes.Buffer
			if err := n.Command(args[0], args[1:]...).SetStdout(&out).Run(); err != nil {
				t.Fatalf("%v in node %s: %v", args, node, err)
			}
			return out.String()
		}
	}
	t.Fatalf("no node %s", node)
	return ""
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
