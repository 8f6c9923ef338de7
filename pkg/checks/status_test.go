package checks

import (
	"net/netip"
	"testing"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// envWith is an Env whose nodes report the given statuses.
func envWith(t *testing.T, p *plan.Plan, statuses ...models.StatusResponse) *Env {
	env := &Env{Plan: p}
	for i, st := range statuses {
		name := []string{nodeA, nodeB}[i]
		env.Nodes = append(env.Nodes, &Node{Status: decode(t, st), PodCIDRs: []netip.Prefix{[]netip.Prefix{podCIDRA, podCIDRB}[i]}})
		env.Nodes[i].Name = name
	}
	return env
}

func decideStatus(t *testing.T, check string, env *Env) Decision {
	f, ok := statusFields[check]
	require.True(t, ok, check)
	return decideEveryNode(f.field, f.want, statusValues(env, f))
}

// Every status check passes on the status the tuned agent reports and fails
// on the baseline's, for the reason its tuning is off.
func TestStatusChecksOnSeedAndBaseline(t *testing.T) {
	seed := seedStatus()
	seed.Hubble = &models.HubbleStatus{State: "Disabled"}
	cases := []struct {
		check     string
		seedPass  bool
		failValue string // what the baseline's reason names
	}{
		{"status.routing-native", true, `"Tunnel"`},
		{"status.kube-proxy-replacement", true, `"False"`},
		{"status.masquerading-bpf", true, `"iptables"`},
		{"status.nodeport-dsr", true, `"NodePort disabled"`},
		{"status.host-routing-bpf", true, `"Legacy"`},
		{"status.hubble-disabled", true, `"Ok"`},
		{"status.xdp-native", false, `""`},
		{"status.bandwidth-manager", false, `"false"`},
		{"status.bbr", false, `"bandwidth manager disabled"`},
		{"status.ipv4-big-tcp", false, `enabled=false maxGSO=65536`},
		{"status.ipv6-big-tcp", false, `enabled=false maxGSO=0`},
		{"status.device-mode-netkit", false, `"veth"`},
		{"status.bpf-map-sizes", false, `"0.0025 (configured 0.08`},
	}
	for _, c := range cases {
		t.Run(c.check, func(t *testing.T) {
			d := decideStatus(t, c.check, envWith(t, nil, seed, seed))
			if c.seedPass {
				require.Equal(t, verdict.Pass, d.Result, d.Reason)
			} else {
				require.Equal(t, verdict.Fail, d.Result, d.Reason)
			}
			d = decideStatus(t, c.check, envWith(t, nil, baselineStatus(), baselineStatus()))
			require.Equal(t, verdict.Fail, d.Result, d.Reason)
			require.Contains(t, d.Reason, c.failValue)
			require.Contains(t, d.Reason, nodeA)
		})
	}
}

// PASS needs every node: one agent that fell back fails the check, named.
func TestStatusNeedsEveryNode(t *testing.T) {
	d := decideStatus(t, "status.host-routing-bpf", envWith(t, nil, seedStatus(), legacyRoutingStatus()))
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, nodeB+` reports routing.intra-host-routing-mode="Legacy"`)
	require.NotContains(t, d.Reason, nodeA+" reports")

	env := envWith(t, nil, seedStatus())
	env.Nodes = append(env.Nodes, &Node{StatusErr: errNoAgent})
	env.Nodes[1].Name = nodeB
	d = decideStatus(t, "status.host-routing-bpf", env)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "not measured")
	require.Contains(t, d.NotMeasured, nodeB+": ")
}

func TestStatusMapSizeRatioFollowsThePlan(t *testing.T) {
	st := seedStatus()
	st.BpfMaps = &models.BPFMapStatus{DynamicSizeRatio: 0.08, Maps: []*models.BPFMapProperties{
		{Name: "cilium_ct4_global", Size: 1808950}, {Name: "cilium_snat_v4_external", Size: 1808950}}}
	p := &plan.Plan{Values: plan.Nest(map[string]any{"bpf.mapDynamicSizeRatio": 0.08})}
	d := decideStatus(t, "status.bpf-map-sizes", envWith(t, p, st, st))
	require.Equal(t, verdict.Pass, d.Result, d.Reason)
	require.Contains(t, d.Reason, "cilium_ct4_global=1808950")

	// The plan asked for 0.05 and the agent runs 0.08: FAIL.
	p = &plan.Plan{Values: plan.Nest(map[string]any{"bpf.mapDynamicSizeRatio": 0.05})}
	d = decideStatus(t, "status.bpf-map-sizes", envWith(t, p, st, st))
	require.Equal(t, verdict.Fail, d.Result, d.Reason)
}

func TestDeriveActiveFromSeedAndBaseline(t *testing.T) {
	a := DeriveActive(facts(t, seedStatus(), true))
	for _, k := range []tuning.Key{tuning.NativeRouting, tuning.KubeProxyReplacement, tuning.BPFMasquerade, tuning.DSR, tuning.BPFHostRouting, tuning.BypassConntrack, tuning.HubbleDisabled} {
		require.True(t, a.Active(k), "%s: %s", k, a.Why(k))
	}
	for _, k := range []tuning.Key{tuning.XDPAcceleration, tuning.BandwidthManager, tuning.BBR, tuning.Netkit, tuning.JumboMTU, tuning.BPFMapSize, tuning.DistributedLRU, tuning.IPv4BIGTCP} {
		require.False(t, a.Active(k), "%s: %s", k, a.Why(k))
	}
	b := DeriveActive(facts(t, baselineStatus(), false))
	require.Empty(t, b.Keys())
	require.Contains(t, b.Why(tuning.BPFHostRouting), nodeA+"=Legacy")

	// One node short of an option: not active.
	mixed := facts(t, seedStatus(), true)
	mixed[1].Status = decode(t, legacyRoutingStatus())
	require.False(t, DeriveActive(mixed).Active(tuning.BPFHostRouting))
}
