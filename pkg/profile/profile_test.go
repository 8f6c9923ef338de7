package profile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

var cilium120 = tuning.CiliumVersion{Major: 1, Minor: 20, Patch: 2}

func TestBuiltinProfilesLoad(t *testing.T) {
	ps, err := Builtin()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, p := range ps {
		names[p.Name] = true
		require.NotEmpty(t, p.Description, p.Name)
	}
	for _, n := range []string{"baseline", "seed-part8", "recommended", "bypass-isolated", "bypass-isolated-off"} {
		require.True(t, names[n], n)
	}
	// One profile per option, on top of its prerequisites.
	for _, k := range tuning.Keys() {
		p, err := Load(string(k))
		require.NoError(t, err, k)
		require.Contains(t, p.Tunings, string(k))
	}
}

func TestEveryOptionCheckHasANegativeControl(t *testing.T) {
	ps, err := Builtin()
	require.NoError(t, err)
	controlled := map[string]bool{}
	for _, p := range ps {
		for _, c := range p.NegativeControls {
			controlled[c] = true
		}
	}
	for _, o := range tuning.Options() {
		for _, c := range append(append([]string{}, o.StatusChecks...), o.BehaviourChecks...) {
			require.True(t, controlled[c], "%s: check %s has no negative control in any profile", o.Key, c)
		}
	}
}

// The discriminating pair differs in the conntrack bypass alone.
func TestBypassIsolatedPairDiffersOnlyInTheBypass(t *testing.T) {
	on, err := Load("bypass-isolated")
	require.NoError(t, err)
	off, err := Load("bypass-isolated-off")
	require.NoError(t, err)
	seed, err := Load("seed-part8")
	require.NoError(t, err)
	require.Equal(t, seed.Tunings, on.Tunings)
	require.Equal(t, on.FlatValues(), off.FlatValues())
	require.Equal(t, map[string]any{"bpf.hostLegacyRouting": true}, on.FlatValues())
	var diff []string
	for _, t := range on.Tunings {
		if !contains(off.Tunings, t) {
			diff = append(diff, t)
		}
	}
	require.Equal(t, []string{"bypass-conntrack"}, diff)
	require.Len(t, off.Tunings, len(on.Tunings)-1)
	require.Contains(t, off.NegativeControls, "conntrack.flat-pod-to-pod")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestStrictProfiles(t *testing.T) {
	_, err := Parse([]byte("name: x\ntunings: [dsr]\nvaluez: {}\n"), "x.yaml")
	require.ErrorContains(t, err, `profile x.yaml`)
	require.ErrorContains(t, err, `unknown field "valuez"`)

	_, err = Parse([]byte("name: x\ntunings: [bypass-contrack]\n"), "x.yaml")
	require.ErrorContains(t, err, `did you mean "bypass-conntrack"`)

	_, err = Parse([]byte("name: x\nnegativeControls: [conntrack.flat]\n"), "x.yaml")
	require.ErrorContains(t, err, `did you mean "conntrack.flat-pod-to-pod"`)

	_, err = Parse([]byte("tunings: []\n"), "x.yaml")
	require.ErrorContains(t, err, `"name" is required`)

	_, err = Load("no-such-profile")
	require.ErrorContains(t, err, `unknown profile "no-such-profile": built-in profiles are`)

	dir := t.TempDir()
	f := filepath.Join(dir, "mine.yaml")
	require.NoError(t, os.WriteFile(f, []byte("name: mine\ntunings: [kube-proxy-replacement]\nvalues:\n  bpf:\n    hostLegacyRouting: true\n"), 0o644))
	p, err := Load(f)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"bpf.hostLegacyRouting": true}, p.FlatValues())

	_, err = LoadAll([]string{"baseline,seed-part8", "baseline"})
	require.ErrorContains(t, err, `profile "baseline" given twice`)
}

func TestMatrixPrunesWithReasons(t *testing.T) {
	ps, err := LoadAll([]string{"baseline", "seed-part8", "netkit", "bypass-conntrack"})
	require.NoError(t, err)
	var pfs []Platform
	for _, k := range []string{"4.19.57", "5.15", "6.18"} {
		pf, err := ParsePlatform(k)
		require.NoError(t, err)
		pfs = append(pfs, pf)
	}
	rows, err := Matrix(ps, pfs, []string{plan.Kind}, cilium120)
	require.NoError(t, err)
	require.Len(t, rows, 12)
	byKey := map[string]Row{}
	for _, r := range rows {
		byKey[r.Profile+"@"+r.Kernel] = r
	}
	require.Contains(t, byKey["baseline@4.19.57"].Pruned, "Cilium 1.20.2 needs kernel >= 5.10")
	require.Empty(t, byKey["seed-part8@5.15"].Pruned)
	require.Contains(t, byKey["netkit@5.15"].Plan.Skipped(tuning.Netkit), "needs kernel >= 6.8")
	require.Empty(t, byKey["netkit@5.15"].Pruned, "its prerequisites still run")
	require.Empty(t, byKey["netkit@6.18"].Plan.Skips)
	rhel, err := ParsePlatform("rhel8.10")
	require.NoError(t, err)
	require.Equal(t, kernel.MustParse("5.10"), rhel.Kernel)
	_, err = ParsePlatform("six")
	require.Error(t, err)
}
