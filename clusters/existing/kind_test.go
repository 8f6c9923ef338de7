package existing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	docker "github.com/docker/docker/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/clusters/kind"
	"github.com/tunedcilium/tunedcilium/pkg/images"
	"github.com/tunedcilium/tunedcilium/pkg/probe"
)

// TestExistingOnKindCluster opens a real 2-node kind cluster (no CNI: nodes
// NotReady) as an existing cluster: nodes from the API with their container
// names, the API server address the nodes use, and commands run on each node
// through the node-access pods (host network, host PID), with probe's error
// contract; Delete removes the run's namespace and lease. It needs a Docker
// engine (`make env`), the kind node image and a node-access image with
// iproute2 (`make images`), and skips naming what is missing.
func TestExistingOnKindCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dc, err := docker.NewClientWithOpts(docker.FromEnv, docker.WithAPIVersionNegotiation())
	if err != nil {
		t.Skipf("no Docker client: %v", err)
	}
	defer dc.Close()
	if _, err := dc.Ping(ctx); err != nil {
		t.Skipf("no Docker engine answers (%v): run `make env`", err)
	}
	if _, err := dc.ImageInspect(ctx, images.NodeImage); err != nil {
		t.Skipf("kind node image %s is absent: run `make images`", images.NodeImage)
	}
	accessImage := ""
	for _, img := range []string{images.WorkloadImage, "localhost/tunedcilium/rootfs-nettools:bookworm"} {
		if _, err := dc.ImageInspect(ctx, img); err == nil {
			accessImage = img
			break
		}
	}
	if accessImage == "" {
		t.Skipf("no node-access image (%s) in the Docker engine: run `make images`", images.WorkloadImage)
	}

	runID := fmt.Sprintf("e%d", time.Now().Unix()%1000000)
	kc, err := kind.New(testWriter{t}).Create(ctx, clusters.Spec{Name: "tunedcilium-" + runID, RunID: runID, Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := kc.Delete(context.Background()); err != nil {
			t.Errorf("delete kind cluster: %v", err)
		}
	})
	if err := kc.LoadImages(ctx, accessImage); err != nil {
		t.Fatal(err)
	}

	c, err := Open(ctx, Options{Kubeconfig: kc.KubeconfigPath(), RunID: runID, NodeAccessImage: accessImage, Lock: true, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Options{Kubeconfig: kc.KubeconfigPath(), RunID: "another-run", Lock: true}); err == nil || !strings.Contains(err.Error(), "in use by tunedcilium run "+runID) {
		t.Errorf("a second run on the same cluster: err = %v, want a refusal naming run %s", err, runID)
	}

	host, port := c.APIServer()
	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 {
		t.Fatalf("nodes = %+v, want 2", nodes)
	}
	for _, n := range nodes {
		if n.Container != n.Name {
			t.Errorf("node %s: container %q, want the kind node container", n.Name, n.Container)
		}
		if n.Role == "control-plane" && (host != n.InternalIP || port != 6443) {
			t.Errorf("API server for nodes = %s:%d, want the control plane %s:6443", host, port, n.InternalIP)
		}
		r, err := c.NodeRunner(ctx, n.Name)
		if err != nil {
			t.Fatal(err)
		}
		out, err := r.Run(ctx, []string{"sh", "-c", "ip -o -4 addr show dev eth0; cat /proc/1/comm"})
		if err != nil {
			t.Fatalf("run on %s: %v", n.Name, err)
		}
		// The pod is in the node's network namespace (its eth0 address) and
		// PID namespace (PID 1 is the node's systemd).
		if !strings.Contains(string(out), "inet "+n.InternalIP+"/") || !strings.HasSuffix(strings.TrimSpace(string(out)), "systemd") {
			t.Errorf("run on %s: %q, want its address %s and systemd as PID 1", n.Name, out, n.InternalIP)
		}
		_, err = r.Run(ctx, []string{"sh", "-c", "echo broken >&2; exit 3"})
		var ce *probe.CommandError
		if !errors.As(err, &ce) || ce.ExitCode != 3 || !strings.Contains(ce.Stderr, "broken") {
			t.Errorf("failing command on %s: %v, want a probe.CommandError with exit 3 and its stderr", n.Name, err)
		}
		if _, err := r.Run(ctx, []string{"no-such-tool"}); !errors.Is(err, probe.ErrCommandNotFound) {
			t.Errorf("missing command on %s: %v, want probe.ErrCommandNotFound", n.Name, err)
		}
	}

	if err := c.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := Open(ctx, Options{Kubeconfig: kc.KubeconfigPath(), RunID: "after", Lock: true})
	if err != nil {
		t.Fatalf("after Delete the lease should be free: %v", err)
	}
	ns, err := after.client.CoreV1().Namespaces().Get(ctx, RunNamespace(runID), metav1.GetOptions{})
	if err == nil && ns.DeletionTimestamp == nil {
		t.Errorf("namespace %s still there after Delete", ns.Name)
	}
	if err := after.Delete(ctx); err != nil {
		t.Error(err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
