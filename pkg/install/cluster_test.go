package install

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tunedcilium/tunedcilium/clusters/existing"
	"github.com/tunedcilium/tunedcilium/pkg/images"
)

// TestInstallOnRealCluster installs Cilium from the module's chart on a real,
// disposable cluster without a CNI, with kube-proxy replacement (the API
// server address taken from the cluster's kubernetes endpoints), waits until
// every agent is healthy, reads each agent's decoded status and fallback
// lines, restarts the agents, and uninstalls. It needs
// TUNEDCILIUM_KUBECONFIG; the images follow TUNEDCILIUM_IMAGES=local /
// TUNEDCILIUM_CILIUM_IMAGE / TUNEDCILIUM_OPERATOR_IMAGE (pkg/images), which
// the cluster's nodes must already hold.
func TestInstallOnRealCluster(t *testing.T) {
	kubeconfig := os.Getenv("TUNEDCILIUM_KUBECONFIG")
	if kubeconfig == "" {
		t.Skip("needs a disposable cluster without CNI: set TUNEDCILIUM_KUBECONFIG (and TUNEDCILIUM_IMAGES=local for the local images)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	cluster, err := existing.Open(ctx, existing.Options{Kubeconfig: kubeconfig, RunID: "test-install", Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Delete(context.Background())
	host, port := cluster.APIServer()
	src, err := images.ParseSource("", "", "")
	if err != nil {
		t.Fatal(err)
	}

	c, err := New(kubeconfig, "", testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	chartDir, err := Source{Module: true}.Resolve(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	planned := map[string]any{
		"kubeProxyReplacement": true,
		"routingMode":          "native",
		"autoDirectNodeRoutes": true,
		"bpf":                  map[string]any{"masquerade": true},
		"hubble":               map[string]any{"enabled": false},
		"operator":             map[string]any{"replicas": 1},
		"ipv6":                 map[string]any{"enabled": false},
	}
	values, err := Values(ValuesInput{Planned: planned, Images: src.HelmValues(), APIServerHost: host, APIServerPort: port, PodCIDR: "10.244.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, chartDir, values); err != nil {
		t.Fatal(err)
	}
	uninstalled := false
	defer func() {
		if !uninstalled {
			_ = c.Uninstall(context.Background())
		}
	}()
	opts := WaitOptions{Timeout: 6 * time.Minute, Operator: OperatorEnabled(values)}
	start := time.Now()
	if err := c.WaitReady(ctx, opts); err != nil {
		t.Fatal(err)
	}
	t.Logf("ready in %s", time.Since(start).Round(time.Second))
	statuses, err := c.Statuses(ctx)
	if err != nil || len(statuses) == 0 {
		t.Fatalf("statuses: %v, %v", statuses, err)
	}
	for node, st := range statuses {
		ok, why := st.Healthy()
		t.Logf("%s: healthy=%v (%s) KPR=%s nodePort=%+v routing=%s/%s masquerading=%+v attach=%s device=%s",
			node, ok, why, st.KubeProxyReplacement(), st.NodePort(), st.InterHostRouting(), st.HostRouting(), st.Masquerading(), st.AttachMode(), st.DatapathMode())
		if !ok {
			t.Errorf("agent on %s unhealthy after WaitReady: %s", node, why)
		}
		if !st.KubeProxyReplacementEnabled() || !st.NativeRouting() || !st.Masquerading().BPF() {
			t.Errorf("agent on %s: the planned KPR/native routing/BPF masquerading are not active", node)
		}
	}
	fallbacks, err := c.Fallbacks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for node, fs := range fallbacks {
		for _, f := range fs {
			t.Logf("fallback on %s: %s", node, f)
		}
	}
	start = time.Now()
	if err := c.RestartAgents(ctx, opts); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted and healthy again in %s", time.Since(start).Round(time.Second))

	uninstalled = true
	if err := c.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if installed, err := c.Installed(); err != nil || installed {
		t.Errorf("after Uninstall: installed=%v, %v", installed, err)
	}
	if agents, err := c.Agents(ctx); err != nil || len(agents) != 0 {
		t.Errorf("after Uninstall: agents %v, %v", agents, err)
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(string(p))
	return len(p), nil
}
