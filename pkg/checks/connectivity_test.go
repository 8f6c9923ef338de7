package checks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/install"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

type fakeCluster struct{ kubeconfig string }

func (f fakeCluster) Name() string                                   { return "fake" }
func (f fakeCluster) Provider() string                               { return "kind" }
func (f fakeCluster) KubeconfigPath() string                         { return f.kubeconfig }
func (f fakeCluster) APIServer() (string, int)                       { return "fake-control-plane", 6443 }
func (f fakeCluster) Nodes(context.Context) ([]clusters.Node, error) { return nil, nil }
func (f fakeCluster) LoadImages(context.Context, ...string) error    { return nil }
func (f fakeCluster) Delete(context.Context) error                   { return nil }

// fakeCLI writes a cilium CLI stand-in that records its arguments and
// environment and ends like the real one.
func fakeCLI(t *testing.T, exit int, summary string) (cli, record string) {
	dir := t.TempDir()
	record = filepath.Join(dir, "record")
	cli = filepath.Join(dir, "cilium")
	script := "#!/bin/sh\necho \"$@\" > " + record + "\necho \"KUBECONFIG=$KUBECONFIG\" >> " + record + "\necho '" + summary + "'\nexit " + string(rune('0'+exit)) + "\n"
	require.NoError(t, os.WriteFile(cli, []byte(script), 0o755))
	return cli, record
}

func TestConnectivityRunsTheCLI(t *testing.T) {
	c, _ := tuning.LookupCheck(tuning.CheckConnectivity)
	report := t.TempDir()
	for _, tc := range []struct {
		exit    int
		summary string
		want    verdict.Result
		reason  string
	}{
		{0, "✅ [cilium-test] All 61 tests (432 actions) successful, 5 tests skipped, 0 scenarios skipped.", verdict.Pass, "All 61 tests"},
		{1, "❌ 2/61 tests failed (5/432 actions), 0 tests skipped, 0 scenarios skipped:", verdict.Fail, "2/61 tests failed"},
	} {
		cli, record := fakeCLI(t, tc.exit, tc.summary)
		env := &Env{Profile: "seed-part8", Cluster: fakeCluster{kubeconfig: "/tmp/kc"}, Cilium: &install.Cilium{Context: "kind-x"}, Log: testLog{t},
			Settings: Settings{CiliumCLI: cli, ConnectivityFilter: "!/pod-to-world", ReportDir: report, ConnectivityTimeout: 30e9}}
		o := connectivity(context.Background(), env, c)
		require.Equal(t, tc.want, o.Result, o.Reason)
		require.Contains(t, o.Reason, tc.reason)
		got, err := os.ReadFile(record)
		require.NoError(t, err)
		args := string(got)
		require.True(t, strings.HasPrefix(args, "connectivity test --junit-file "+filepath.Join(report, "connectivity-seed-part8.xml")+" --collect-sysdump-on-failure"), args)
		require.Contains(t, args, "--context kind-x")
		require.Contains(t, args, "--test !/pod-to-world")
		require.Contains(t, args, "KUBECONFIG=/tmp/kc")
	}
}

func TestConnectivitySkipsWithoutTheCLI(t *testing.T) {
	c, _ := tuning.LookupCheck(tuning.CheckConnectivity)
	t.Setenv("PATH", t.TempDir())
	env := &Env{Profile: "p", Cluster: fakeCluster{}, Cilium: &install.Cilium{}, Log: testLog{t}, Settings: DefaultSettings()}
	o := connectivity(context.Background(), env, c)
	require.Equal(t, verdict.Skip, o.Result)
	require.Contains(t, o.Reason, "no cilium CLI on PATH")
}
