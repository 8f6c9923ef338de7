package checks

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// A negative control whose measurement broke must not count as met: Run marks
// the verdict as not measured.
func TestBrokenMeasurementNeverMeetsANegativeControl(t *testing.T) {
	const name = "dsr.client-ip-preserved"
	orig := registry[name]
	t.Cleanup(func() { registry[name] = orig })
	registry[name] = func(context.Context, *Env, tuning.Check) outcome {
		return errorOutcome(map[string]any{"target": "172.18.0.2:30000"}, errors.New("exec in external container: no such container"))
	}
	env := &Env{Profile: "baseline", Settings: DefaultSettings(), Log: io.Discard, fb: &fallbackCache{}}
	v := Run(context.Background(), env, plan.PlannedCheck{Check: name, Option: "dsr", Expect: verdict.ExpectFail})
	require.Equal(t, verdict.Fail, v.Result)
	require.Contains(t, v.Error, "no such container")
	require.False(t, v.Met(), "a FAIL that measured nothing is not a negative control")
}

// Evidence a node could not give is not evidence of a tuning being off: each
// decision reports it as not measured, so a negative control is not met by it.
func TestUnreadableNodesAreNotMeasured(t *testing.T) {
	for name, d := range map[string]Decision{
		"notrack": DecideNotrack([]NotrackEvidence{{Node: "a", Err: "iptables-nft-save: exit 1"}}),
		"xdp":     DecideXDPNative([]XDPEvidence{{Node: "a", Device: "eth0", Err: "netlink: no such device"}}),
		"fq":      DecideFQ([]NodeDevices{{Node: "a", Err: "enter netns: permission denied"}}),
		"netkit":  DecideNetkit([]NodeDevices{{Node: "a", Err: "enter netns: permission denied"}}),
		"bigtcp":  DecideBigTCP([]NodeDevices{{Node: "a", Err: "enter netns: permission denied"}}, bigTCPv4),
		"maps":    DecideMapsSized([]MapInfo{{Node: "a", Name: "cilium_ct4_global", Err: "bpftool: exit 1"}}),
		"lru":     DecideDistributedLRU([]MapInfo{{Node: "a", Name: "cilium_ct4_global", Err: "bpftool: exit 1"}}),
		"routes":  DecideNativeRoutes([]PeerRoute{{Node: "a", Peer: "b", Err: "netlink: EPERM"}}),
		"forward": DecideForwardBypassed(ForwardEvidence{Connections: 200, Counters: []ForwardCounter{{Node: "a", Err: "iptables: exit 4"}}}),
		"hubble":  DecideHubbleOff("false", []HubbleEvidence{{Node: "a", Err: "exec: pod gone"}}),
		"bbr":     DecideBBR([]PodCongestion{{Pod: "p", Node: "a", Err: "exec: pod gone"}}, InheritedCongestion{}),
		"mtu":     DecideDeviceMTU([]MTUEvidence{{Node: "a", Err: "statedb: exit 1"}}, 9000),
	} {
		require.Equal(t, verdict.Fail, d.Result, name)
		require.NotEmpty(t, d.NotMeasured, name)
		require.Contains(t, d.Reason, "not measured", name)
	}
}
