package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/traffic"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

func conntrackCheck(t *testing.T) tuning.Check {
	c, ok := tuning.LookupCheck("conntrack.flat-pod-to-pod")
	require.True(t, ok)
	return c
}

// Deltas as measured here: +0/+0 with BPF host routing or NOTRACK rules,
// +200/+200 with legacy routing and no rules.
func ctEvidence(deltaA, deltaB int, hostRouting string, notrack bool) ConntrackEvidence {
	return ConntrackEvidence{
		Client: "client-a on " + nodeA, Connections: 200, Bound: 20,
		Deltas: []traffic.ConntrackDelta{
			{Node: nodeA, Before: 31, After: 31 + deltaA, Delta: deltaA, Connections: 200},
			{Node: nodeB, Before: 12, After: 12 + deltaB, Delta: deltaB, Connections: 200},
		},
		HostRouting: []string{hostRouting, hostRouting}, NotrackPresent: notrack,
		InterHostRouting: []string{"Native", "Native"},
	}
}

// seed-part8: BPF host routing and the NOTRACK rules both active. Flat, and
// host routing is credited: it comes first on the packet's path, and the
// bypass is masked.
func TestConntrackFlatUnderBPFHostRoutingCreditsHostRoutingAndMasksTheBypass(t *testing.T) {
	d := DecideConntrackFlat(ctEvidence(0, 0, "BPF", true))
	require.Equal(t, verdict.Pass, d.Result, d.Reason)
	cr := Credit(conntrackCheck(t), DeriveActive(facts(t, seedStatus(), true)), d)
	require.Equal(t, verdict.Pass, cr.Result)
	require.Equal(t, tuning.BPFHostRouting, cr.Mechanism)
	require.Equal(t, []tuning.Key{tuning.BypassConntrack}, cr.Masked)
	require.Contains(t, cr.Reason, "masked")
}

// BPF host routing alone (no NOTRACK rules): flat, host routing credited,
// nothing masked.
func TestConntrackFlatUnderBPFHostRoutingWithoutRules(t *testing.T) {
	d := DecideConntrackFlat(ctEvidence(0, 1, "BPF", false))
	cr := Credit(conntrackCheck(t), DeriveActive(facts(t, seedStatus(), false)), d)
	require.Equal(t, verdict.Pass, cr.Result, cr.Reason)
	require.Equal(t, tuning.BPFHostRouting, cr.Mechanism)
	require.Empty(t, cr.Masked)
}

// bypass-isolated: legacy host routing with the NOTRACK rules: flat, and
// only now is the bypass credited.
func TestConntrackFlatUnderLegacyRoutingCreditsTheBypass(t *testing.T) {
	d := DecideConntrackFlat(ctEvidence(0, 0, "Legacy", true))
	cr := Credit(conntrackCheck(t), DeriveActive(facts(t, legacyRoutingStatus(), true)), d)
	require.Equal(t, verdict.Pass, cr.Result, cr.Reason)
	require.Equal(t, tuning.BypassConntrack, cr.Mechanism)
	require.Empty(t, cr.Masked)
}

// bypass-isolated-off (the negative control): legacy host routing, no
// NOTRACK rules: +200/+200 is a FAIL that says why.
func TestConntrackGrowsWithoutEitherMechanism(t *testing.T) {
	d := DecideConntrackFlat(ctEvidence(200, 200, "Legacy", false))
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "+200")
	require.Contains(t, d.Reason, "no NOTRACK rule")
	cr := Credit(conntrackCheck(t), DeriveActive(facts(t, legacyRoutingStatus(), false)), d)
	require.Equal(t, verdict.Fail, cr.Result)
	require.Empty(t, cr.Mechanism)
}

// Host routing that claims BPF but lets traffic reach netfilter (a silent
// fallback the status missed) fails, saying so.
func TestConntrackGrowsDespiteBPFStatus(t *testing.T) {
	d := DecideConntrackFlat(ctEvidence(198, 200, "BPF", false))
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "status says host routing BPF")
}

// Flat with no mechanism active cannot be credited: FAIL.
func TestConntrackFlatWithNothingToCredit(t *testing.T) {
	d := DecideConntrackFlat(ctEvidence(0, 0, "Legacy", false))
	require.Equal(t, verdict.Pass, d.Result)
	cr := Credit(conntrackCheck(t), DeriveActive(facts(t, legacyRoutingStatus(), false)), d)
	require.Equal(t, verdict.Fail, cr.Result)
	require.Contains(t, cr.Reason, "nothing to credit")
}

// A delta at the bound is not flat; a negative delta (entries of earlier
// traffic expiring) is.
func TestConntrackBound(t *testing.T) {
	require.Equal(t, verdict.Fail, DecideConntrackFlat(ctEvidence(20, 0, "BPF", false)).Result)
	require.Equal(t, verdict.Pass, DecideConntrackFlat(ctEvidence(19, -5, "BPF", false)).Result)
	e := ctEvidence(0, 0, "BPF", false)
	e.Connections = 0
	require.Equal(t, verdict.Fail, DecideConntrackFlat(e).Result)
}

// Masked by tunnel routing, as measured on the baseline profile: +0/+1 for
// 200 connections with legacy host routing and no NOTRACK rule, because BPF
// encapsulates pod packets before netfilter. Nothing can be credited or
// refuted: SKIP with that reason.
func TestConntrackUnderTunnelRoutingSkips(t *testing.T) {
	e := ctEvidence(0, 1, "Legacy", false)
	e.InterHostRouting = []string{"Tunnel", "Tunnel"}
	d := DecideConntrackFlat(e)
	require.Equal(t, verdict.Skip, d.Result)
	require.Contains(t, d.Reason, "tunnel routing")
	require.Contains(t, d.Reason, "bypass-isolated")
}
