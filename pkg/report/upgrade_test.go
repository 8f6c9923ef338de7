package report

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

func TestUpgradeBeforeAndAfterSideBySide(t *testing.T) {
	r := New(Run{ID: "up1", Provider: "kind", Kernel: "6.18.44", CiliumVersion: "1.20.2"})
	add := func(check string, res verdict.Result, phase, reason string) {
		r.Add(verdict.Verdict{Profile: "seed-part8", Check: check, Result: res, Expect: verdict.ExpectPass, Phase: phase, Reason: reason})
	}
	add("status.kube-proxy-replacement", verdict.Pass, PhaseBefore, "KPR True")
	add("dsr.client-ip-preserved", verdict.Pass, PhaseBefore, "client IP seen")
	add("status.kube-proxy-replacement", verdict.Pass, PhaseAfter, "KPR True")
	add("dsr.client-ip-preserved", verdict.Fail, PhaseAfter, "backend saw node A's address")
	add("upgrade.long-lived-connections", verdict.Fail, PhaseUpgrade, "2 of 40 long-lived connections broke across the upgrade")
	dir := t.TempDir()
	require.NoError(t, r.Write(dir))
	md, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	require.NoError(t, err)
	for _, want := range []string{
		"| check | seed-part8 (before-upgrade) | seed-part8 (after-upgrade) | seed-part8 (upgrade) |",
		"## Upgrade: before and after",
		"### seed-part8",
		"| check | before upgrade | after upgrade | |",
		"| status.kube-proxy-replacement | PASS | PASS |  |",
		"| dsr.client-ip-preserved | PASS | **FAIL** | **regressed**: backend saw node A's address |",
		"| seed-part8 | upgrade.long-lived-connections | **FAIL** | 2 of 40 long-lived connections broke across the upgrade |",
	} {
		require.Contains(t, string(md), want)
	}

	_, _, vs := r.Snapshot()
	pairs := UpgradePairs(vs)
	require.Len(t, pairs, 2)
	require.False(t, pairs[0].Regressed())
	require.True(t, pairs[1].Regressed())

	// JUnit case names stay unique across the phases.
	x, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	require.NoError(t, err)
	var suites junitSuites
	require.NoError(t, xml.Unmarshal(x, &suites))
	names := map[string]bool{}
	for _, c := range suites.Suites[0].Cases {
		require.False(t, names[c.Name], "duplicate case %s", c.Name)
		names[c.Name] = true
	}
	require.True(t, names["dsr.client-ip-preserved [after-upgrade]"])
}

func TestNoUpgradeSectionWithoutPhases(t *testing.T) {
	md := Markdown(Run{ID: "r"}, nil, []verdict.Verdict{{Profile: "p", Check: "c", Result: verdict.Pass}})
	require.NotContains(t, md, "Upgrade")
	require.Contains(t, md, "| check | p |")
}
