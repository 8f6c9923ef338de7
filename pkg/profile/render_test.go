package profile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// Every profile renders through Cilium's real chart (the one in the
// github.com/cilium/cilium module of go.mod), its values pass the chart's
// values.schema.json, and the rendered cilium-config carries what each option
// promises the agent.
func TestProfilesRenderThroughTheRealChart(t *testing.T) {
	dir, err := chart.ModuleChartDir("")
	require.NoError(t, err)
	c, err := chart.Load(dir)
	require.NoError(t, err)

	// A platform where every option can run, so every option renders.
	facts, err := plan.DefaultFacts(plan.Kind, "tc")
	require.NoError(t, err)
	facts.NIC, facts.IPv6 = "mlx5_core", true

	ps, err := Builtin()
	require.NoError(t, err)
	rendered := map[tuning.Key]bool{}
	for _, p := range ps {
		t.Run(p.Name, func(t *testing.T) {
			pl := plan.New(p.Request(plan.Request{Kernel: kernel.MustParse("6.18"), CiliumVersion: cilium120, Facts: facts}))
			require.Empty(t, pl.Errors)
			require.Empty(t, pl.Skips)
			r, err := chart.Render(c, pl.Values, "kube-system", "v1.34.4")
			require.NoError(t, err)
			cm, err := r.ConfigMap("cilium-config")
			require.NoError(t, err)
			for _, name := range pl.Options {
				o, _ := tuning.Lookup(tuning.Key(name))
				for key, want := range o.AgentConfig {
					got, present := cm[key]
					if want == "" {
						require.False(t, present, "%s: %s must be left to auto-detection, got %q", name, key, got)
						continue
					}
					require.Equal(t, want, got, "%s: cilium-config %s", name, key)
				}
				rendered[o.Key] = true
			}
			if pl.Active(tuning.NativeRouting) {
				require.Equal(t, plan.KindPodCIDR, cm["ipv4-native-routing-cidr"])
			}
			if pl.Active(tuning.KubeProxyReplacement) {
				ds := r.Manifests["DaemonSet/cilium"]
				require.Contains(t, ds, "value: \"tc-control-plane\"", "KUBERNETES_SERVICE_HOST for KPR")
			}
			// Host routing is not legacy unless the profile forces it.
			if v, ok := p.FlatValues()["bpf.hostLegacyRouting"]; ok && v == true {
				require.Equal(t, "true", cm["enable-host-legacy-routing"])
			} else {
				require.NotEqual(t, "true", cm["enable-host-legacy-routing"])
			}
		})
	}
	for _, k := range tuning.Keys() {
		require.True(t, rendered[k], "option %s rendered in no profile", k)
	}
}

// The acceptance case of the planner: the bypass with its prerequisites on
// kernel 6.1 renders into a ConfigMap that installs the NOTRACK rules.
func TestBypassConntrackPlanRenders(t *testing.T) {
	dir, err := chart.ModuleChartDir("")
	require.NoError(t, err)
	c, err := chart.Load(dir)
	require.NoError(t, err)
	facts, err := plan.DefaultFacts(plan.Kind, "kind")
	require.NoError(t, err)
	pl := plan.New(plan.Request{
		Options:       []tuning.Key{tuning.BypassConntrack, tuning.NativeRouting, tuning.KubeProxyReplacement, tuning.BPFMasquerade},
		Kernel:        kernel.MustParse("6.1"),
		CiliumVersion: cilium120,
		Facts:         facts,
	})
	require.True(t, pl.Runnable)
	r, err := chart.Render(c, pl.Values, "kube-system", "v1.34.4")
	require.NoError(t, err)
	cm, err := r.ConfigMap("cilium-config")
	require.NoError(t, err)
	require.Equal(t, "true", cm["install-no-conntrack-iptables-rules"])
	require.Equal(t, "native", cm["routing-mode"])
	require.Equal(t, "true", cm["kube-proxy-replacement"])
	require.Equal(t, "true", cm["enable-bpf-masquerade"])
	require.True(t, strings.HasPrefix(cm["ipv4-native-routing-cidr"], "10.244."))
}
