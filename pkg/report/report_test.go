package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

func sample() *Results {
	r := New(Run{ID: "r1", Provider: "kind", Kernel: "6.18.44", CiliumVersion: "1.20.2"})
	add := func(profile, check, option string, res verdict.Result, exp verdict.Expectation, mech string) {
		r.Add(verdict.Verdict{Profile: profile, Check: check, Option: option, Result: res, Expect: exp,
			Mechanism: mech, Reason: "because", Evidence: map[string]any{"delta": 3}, Duration: time.Second})
	}
	add("seed-part8", "conntrack.flat-pod-to-pod", "bpf-host-routing", verdict.Pass, verdict.ExpectPass, "bpf-host-routing")
	add("seed-part8", "dsr.client-ip-preserved", "dsr", verdict.Fail, verdict.ExpectPass, "")
	add("baseline", "conntrack.flat-pod-to-pod", "bypass-conntrack", verdict.Fail, verdict.ExpectFail, "")
	add("baseline", "dsr.client-ip-preserved", "dsr", verdict.Pass, verdict.ExpectFail, "dsr")
	add("seed-part8", "bandwidth.fq-qdisc", "bandwidth-manager", verdict.Skip, verdict.ExpectPass, "")
	r.AddProfile(Profile{Name: "seed-part8", Cluster: "tc-r1", Steps: []Step{{Name: "provision", Duration: 30 * time.Second}}})
	r.AddProfile(Profile{Name: "netkit", Error: "cilium never became ready: agents 0/2"})
	return r
}

func TestTotals(t *testing.T) {
	_, _, vs := sample().Snapshot()
	tot := Count(vs)
	require.Equal(t, Totals{Pass: 1, Fail: 1, ExpectedFail: 1, UnexpectedPass: 1, Skip: 1}, tot)
	require.False(t, tot.OK())
	require.True(t, Count(vs[:1]).OK())
	require.True(t, Count([]verdict.Verdict{vs[2]}).OK(), "a negative control that failed meets its expectation")
}

func TestWriteAllReports(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, sample().Write(dir))

	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	var doc struct {
		Totals  Totals
		Results []map[string]any
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	require.Len(t, doc.Results, 5)
	require.Equal(t, "seed-part8", doc.Results[0]["profile"])
	for _, k := range []string{"profile", "option", "check", "verdict", "evidence", "duration", "expect"} {
		require.Contains(t, doc.Results[0], k)
	}
	_, _, vs, err := Read(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	require.Len(t, vs, 5)

	x, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	require.NoError(t, err)
	var suites junitSuites
	require.NoError(t, xml.Unmarshal(x, &suites))
	require.Equal(t, 6, suites.Tests, "5 checks + the profile that never reached its checks")
	require.Equal(t, 3, suites.Failures, "unexpected FAIL, unexpected PASS, setup failure")
	require.Equal(t, 1, suites.Skipped)

	md, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	require.NoError(t, err)
	for _, want := range []string{
		"| check | seed-part8 | baseline |",
		"| conntrack.flat-pod-to-pod | PASS | FAIL (expected) |",
		"| dsr.client-ip-preserved | **FAIL** | **PASS (FAIL expected)** |",
		"(mechanism: bpf-host-routing)",
		"netkit did not reach its checks",
		"expectations NOT met",
	} {
		require.Contains(t, string(md), want)
	}

	var buf bytes.Buffer
	_, _, vs = sample().Snapshot()
	require.NoError(t, Checklist(&buf, vs))
	require.Contains(t, buf.String(), "FAIL (expected)")
}

func TestNotMeasuredNegativeControlIsAFailure(t *testing.T) {
	v := verdict.Verdict{Profile: "baseline", Check: "dsr.client-ip-preserved", Result: verdict.Fail,
		Expect: verdict.ExpectFail, Reason: "not measured: exec failed", Error: "exec failed"}
	tot := Count([]verdict.Verdict{v})
	require.Equal(t, 1, tot.Fail)
	require.False(t, tot.OK())
	require.Contains(t, Markdown(Run{}, nil, []verdict.Verdict{v}), "ERROR (not measured)")
}
