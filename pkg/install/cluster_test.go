package install

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestInstallOnRealCluster installs Cilium from the module's chart on a real,
// disposable cluster, waits until every agent is healthy, reads each agent's
// decoded status and fallback lines, restarts the agents, and uninstalls.
// It needs TUNEDCILIUM_KUBECONFIG (a cluster without a CNI whose nodes hold
// the Cilium images: `make env`, `make images`, a kind cluster), and takes
// the images from TUNEDCILIUM_CILIUM_IMAGE / TUNEDCILIUM_OPERATOR_IMAGE.
func TestInstallOnRealCluster(t *testing.T) {
	kubeconfig := os.Getenv("TUNEDCILIUM_KUBECONFIG")
	if kubeconfig == "" {
		t.Skip("needs a disposable cluster without CNI: set TUNEDCILIUM_KUBECONFIG (and TUNEDCILIUM_CILIUM_IMAGE/TUNEDCILIUM_OPERATOR_IMAGE for local images)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	c, err := New(kubeconfig, "", testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	chartDir, err := Source{Module: true}.Resolve(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]any{}
	if img := os.Getenv("TUNEDCILIUM_CILIUM_IMAGE"); img != "" {
		images["image"] = map[string]any{"override": img, "useDigest": false, "pullPolicy": "Never"}
		images["envoy"] = map[string]any{"enabled": false}
		images["l7Proxy"] = false
	}
	if img := os.Getenv("TUNEDCILIUM_OPERATOR_IMAGE"); img != "" {
		images["operator"] = map[string]any{"replicas": 1, "image": map[string]any{"override": img, "useDigest": false, "pullPolicy": "Never"}}
	}
	values, err := Values(ValuesInput{Planned: map[string]any{"hubble": map[string]any{"enabled": false}}, Images: images})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, chartDir, values); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Uninstall(context.Background()); err != nil {
			t.Errorf("uninstall: %v", err)
		}
	})
	opts := WaitOptions{Timeout: 5 * time.Minute, Operator: OperatorEnabled(values)}
	if err := c.WaitReady(ctx, opts); err != nil {
		t.Fatal(err)
	}
	agents, err := c.Agents(ctx)
	if err != nil || len(agents) == 0 {
		t.Fatalf("agents: %v, %v", agents, err)
	}
	for _, a := range agents {
		st, err := c.AgentStatus(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		ok, why := st.Healthy()
		t.Logf("%s on %s: healthy=%v (%s) KPR=%s host routing=%s masquerading=%+v", a.Pod, a.Node, ok, why, st.KubeProxyReplacement(), st.HostRouting(), st.Masquerading())
		if !ok {
			t.Errorf("agent %s unhealthy after WaitReady: %s", a.Pod, why)
		}
		fallbacks, err := c.AgentFallbacks(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fallbacks {
			t.Logf("fallback on %s: %s", a.Node, f)
		}
	}
	if err := c.RestartAgents(ctx, opts); err != nil {
		t.Fatal(err)
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(string(p))
	return len(p), nil
}
