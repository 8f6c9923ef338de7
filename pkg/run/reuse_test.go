package run

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

func planFor(t *testing.T, name string) (*plan.Plan, clusters.Spec) {
	t.Helper()
	p, err := profile.Load(name)
	require.NoError(t, err)
	facts, err := plan.DefaultFacts(plan.Kind, "tc")
	require.NoError(t, err)
	cfg := kernel.Config{"CONFIG_TCP_CONG_BBR": "y"} // this lab: no fq, no netkit
	pl := plan.New(p.Request(plan.Request{Kernel: kernel.MustParse("6.18"), KernelConfig: cfg,
		CiliumVersion: tuning.CiliumVersion{Major: 1, Minor: 20, Patch: 2}, Facts: facts}))
	require.Empty(t, pl.Errors, name)
	return pl, SpecFor(pl, Options{Nodes: 2}, "tc")
}

func TestReuseDecisions(t *testing.T) {
	base, baseSpec := planFor(t, "baseline")
	seed, seedSpec := planFor(t, "seed-part8")
	iso, isoSpec := planFor(t, "bypass-isolated")
	off, offSpec := planFor(t, "bypass-isolated-off")
	rec, recSpec := planFor(t, "recommended")
	jumbo, jumboSpec := planFor(t, "jumbo-mtu")

	ok, why := Reuse(nil, base, clusters.Spec{}, baseSpec, false)
	require.False(t, ok)
	require.Equal(t, "first profile", why)

	ok, why = Reuse(base, seed, baseSpec, seedSpec, false)
	require.False(t, ok)
	require.Contains(t, why, "replaces kube-proxy")

	ok, why = Reuse(seed, iso, seedSpec, isoSpec, false)
	require.True(t, ok, why)
	ok, why = Reuse(iso, off, isoSpec, offSpec, false)
	require.True(t, ok, why)
	ok, _ = Reuse(iso, off, isoSpec, offSpec, true)
	require.False(t, ok, "--fresh-clusters")

	// netkit is skipped on this kernel, so recommended differs from seed-part8
	// only in options that switch in place.
	ok, why = Reuse(seed, rec, seedSpec, recSpec, false)
	require.True(t, ok, why)

	ok, why = Reuse(base, jumbo, baseSpec, jumboSpec, false)
	require.False(t, ok)
	require.Contains(t, why, "MTU 0 -> 9000")
}

func TestReuseRefusesRoutingModeSwitch(t *testing.T) {
	kpr, kprSpec := planFor(t, "kube-proxy-replacement")
	dsr, dsrSpec := planFor(t, "dsr")
	ok, why := Reuse(kpr, dsr, kprSpec, dsrSpec, false)
	require.False(t, ok)
	require.Contains(t, why, "native-routing cannot be done in place")
}
