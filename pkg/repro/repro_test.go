package repro

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

func TestFindPicksTheFailure(t *testing.T) {
	b := Bundle{Profile: "p", Failed: []Failure{
		{Check: "dsr.client-ip-preserved", Phase: "after-upgrade"},
		{Check: "conntrack.flat-pod-to-pod"},
	}}
	_, err := b.Find("", "")
	require.EqualError(t, err, "2 checks failed (conntrack.flat-pod-to-pod, dsr.client-ip-preserved@after-upgrade): name one with --check")
	f, err := b.Find("conntrack.flat-pod-to-pod", "")
	require.NoError(t, err)
	require.Equal(t, "conntrack.flat-pod-to-pod", f.Check)
	_, err = (Bundle{Profile: "p"}).Find("", "")
	require.ErrorContains(t, err, "records no failed check")
}

func TestReplayOfAnUpgradeCheckRunsTheUpgrade(t *testing.T) {
	b := Bundle{Profile: "seed-part8", Run: Run{Provider: "kind", CiliumVersion: "1.20.2", Images: "local", UpgradeFrom: "1.19.5"}}
	argv := ReplayCommand(b, "/r/repro/seed-part8", Failure{Check: "upgrade.long-lived-connections", Phase: "upgrade"})
	line := ShellLine(argv)
	require.Contains(t, line, "--upgrade-from 1.19.5")
	require.NotContains(t, line, "--assess", "the upgrade's own verdicts are judged on the whole profile")

	argv = ReplayCommand(b, "/r/repro/seed-part8", Failure{Check: "dsr.client-ip-preserved", Option: "dsr", Expect: verdict.ExpectPass, Phase: "after-upgrade"})
	line = ShellLine(argv)
	require.Contains(t, line, "--upgrade-from 1.19.5")
	require.Contains(t, line, `--assess '\[dsr\.client-ip-preserved\]$'`)
	require.Contains(t, line, "--labels profile=seed-part8,option=dsr,expect=pass")

	argv = ReplayCommand(b, "/r", Failure{Check: "dsr.client-ip-preserved", Option: "dsr", Expect: verdict.ExpectPass})
	require.NotContains(t, ShellLine(argv), "--upgrade-from", "a check that failed without an upgrade replays without one")

	b.Run.MinGbps, b.Run.Connections, b.Run.ConntrackBound = 2.5, 300, 0
	line = ShellLine(ReplayCommand(b, "/r", Failure{Check: "throughput.pod-to-pod", Expect: verdict.ExpectPass}))
	require.Contains(t, line, "--min-gbps 2.5 --", "a threshold the check failed against is replayed")
	require.Contains(t, line, "--connections 300 --conntrack-bound 0")
	require.Contains(t, line, "--labels profile=seed-part8,option=cluster,expect=pass", "cluster-wide checks are in the cluster feature")
}

func TestStartRejectsAProfileThatDoesNotReadBack(t *testing.T) {
	_, err := Start(t.TempDir(), Input{Profile: profile.Profile{Name: "x", Tunings: []string{"no-such-tuning"}}})
	require.ErrorContains(t, err, "does not read back")
}
