package existing

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// kubeconfigFor writes a kubeconfig pointing at server with one context.
func kubeconfigFor(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	data := `apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: ` + server + `
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: not-a-real-token
contexts:
- name: lab
  context: {cluster: lab, user: admin}
current-context: lab
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestOpenRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("this: [is not: a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unreachable := "https://" + closedPort(t)
	cases := []struct {
		name string
		opts Options
		want []string
	}{
		{"none", Options{}, []string{"no kubeconfig given", "--kubeconfig"}},
		{"missing file", Options{Kubeconfig: missing}, []string{"kubeconfig " + missing + " does not exist", "--kubeconfig"}},
		{"directory", Options{Kubeconfig: dir}, []string{dir + " is a directory", "--kubeconfig"}},
		{"garbage", Options{Kubeconfig: garbage}, []string{"kubeconfig " + garbage + " is not a valid kubeconfig", "--kubeconfig"}},
		{"no contexts", Options{Kubeconfig: empty}, []string{empty + " has no contexts", "--kubeconfig"}},
		{"unknown context", Options{Kubeconfig: kubeconfigFor(t, unreachable), Context: "prod"}, []string{`has no context "prod" (contexts: lab)`, "--kube-context"}},
		{"unreachable", Options{Kubeconfig: kubeconfigFor(t, unreachable), ReachTimeout: 5 * time.Second}, []string{"API server " + unreachable, "is unreachable", "--kubeconfig"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(context.Background(), c.opts)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestNodeAccessDaemonSet(t *testing.T) {
	ds := NodeAccessDaemonSet("tunedcilium-run1", "run1", "localhost/tunedcilium/workload:1")
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || !spec.HostPID {
		t.Errorf("hostNetwork=%v hostPID=%v, want both", spec.HostNetwork, spec.HostPID)
	}
	c := spec.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Error("container not privileged")
	}
	if c.Image != "localhost/tunedcilium/workload:1" {
		t.Errorf("image = %s", c.Image)
	}
	if len(spec.Tolerations) != 1 || spec.Tolerations[0].Operator != corev1.TolerationOpExists || spec.Tolerations[0].Key != "" {
		t.Errorf("tolerations = %+v, want one that tolerates every taint", spec.Tolerations)
	}
	if ds.Labels["io.tunedcilium.run"] != "run1" || ds.Spec.Template.Labels["io.tunedcilium.run"] != "run1" {
		t.Errorf("run label missing: %v", ds.Labels)
	}
	for k, v := range ds.Spec.Selector.MatchLabels {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the template", k, v)
		}
	}
}

func TestRunNamespace(t *testing.T) {
	for in, want := range map[string]string{
		"20261124-1200-ab12":    "tunedcilium-20261124-1200-ab12",
		"Run_With.Dots":         "tunedcilium-run-with-dots",
		strings.Repeat("x", 80): "tunedcilium-" + strings.Repeat("x", 51),
	} {
		if got := RunNamespace(in); got != want {
			t.Errorf("RunNamespace(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]struct {
		host string
		port int
	}{
		"https://172.18.0.2:6443": {"172.18.0.2", 6443},
		"https://api.example":     {"api.example", 443},
		"https://[fd00::1]:6443":  {"fd00::1", 6443},
	} {
		h, p := hostPort(in)
		if h != want.host || p != want.port {
			t.Errorf("hostPort(%s) = %s, %d", in, h, p)
		}
	}
}

// TestOpenRealCluster opens the cluster of TUNEDCILIUM_KUBECONFIG, lists its
// nodes, and with TUNEDCILIUM_NODE_IMAGE (an image the nodes hold with
// iproute2) runs `ip -o link` on each node through the node-access pods,
// then removes the run's namespace and lease with Delete. The real-cluster
// tests of several packages share the cluster's lease: run them with -p 1.
func TestOpenRealCluster(t *testing.T) {
	kubeconfig := os.Getenv("TUNEDCILIUM_KUBECONFIG")
	if kubeconfig == "" {
		t.Skip("needs a cluster: set TUNEDCILIUM_KUBECONFIG (and TUNEDCILIUM_NODE_IMAGE for node access)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Open(ctx, Options{Kubeconfig: kubeconfig, RunID: "test-existing", NodeAccessImage: os.Getenv("TUNEDCILIUM_NODE_IMAGE"), Lock: true, Log: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Delete(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	host, port := c.APIServer()
	t.Logf("cluster %s, API server for nodes %s:%d", c.Name(), host, port)
	if host == "" || port == 0 {
		t.Error("no API server address")
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) == 0 {
		t.Skip("the cluster has no nodes (a bare API server from hack/local-apiserver.sh?): nothing more to check")
	}
	for _, n := range nodes {
		t.Logf("node %+v", n)
		if n.InternalIP == "" {
			t.Errorf("node %s has no InternalIP", n.Name)
		}
	}
	if os.Getenv("TUNEDCILIUM_NODE_IMAGE") == "" {
		return
	}
	for _, n := range nodes {
		r, err := c.NodeRunner(ctx, n.Name)
		if err != nil {
			t.Fatal(err)
		}
		out, err := r.Run(ctx, []string{"ip", "-o", "link"})
		if err != nil || !strings.Contains(string(out), "lo:") {
			t.Errorf("ip -o link on %s: %q, %v", n.Name, out, err)
		}
	}
}
