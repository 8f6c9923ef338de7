package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestPlanExitCodes(t *testing.T) {
	code, out, _ := runCLI(t, "plan", "--tunings", "bypass-conntrack", "--kernel", "6.1", "-o", "json")
	require.Equal(t, 1, code, "missing prerequisites are errors")
	var p struct {
		Runnable bool
		Errors   []struct{ Option, Reason string }
		Skips    []struct{ Option, Reason string }
		Values   map[string]any
		Checks   []string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &p))
	require.False(t, p.Runnable)
	require.Len(t, p.Errors, 3)
	require.NotEmpty(t, p.Checks)

	code, out, _ = runCLI(t, "plan", "--tunings", "bypass-conntrack,native-routing,kube-proxy-replacement,bpf-masquerade", "--kernel", "6.1", "-o", "json")
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(out), &p))
	require.True(t, p.Runnable)
	require.Equal(t, true, p.Values["installNoConntrackIptablesRules"])

	// Skips are allowed: exit 0.
	code, out, _ = runCLI(t, "plan", "--tunings", "kube-proxy-replacement,xdp-acceleration", "--kernel", "6.1", "--nic", "e1000", "-o", "json")
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(out), &p))
	require.Equal(t, "xdp-acceleration", p.Skips[0].Option)
	require.False(t, p.Runnable)
}

func TestBadInputExitsTwoWithOneLine(t *testing.T) {
	for _, args := range [][]string{
		{"plan", "--tunings", "bypass-contrack", "--kernel", "6.1"},
		{"plan", "--tunings", "dsr", "--kernel", "six"},
		{"plan", "--profile", "no-such"},
		{"plan", "--kernel", "6.1"},
		{"plan", "--tunings", "dsr", "--kernel", "6.1", "--provider", "minikube"},
		{"plan", "--tunings", "dsr", "--kernel", "6.1", "--cilium-version", "2.0"},
		{"plan", "--tunings", "dsr", "--kernel", "6.1", "--api-server", "nohost"},
		{"matrix", "--kernels", "x.y"},
		{"options", "-o", "yaml"},
		{"plan", "--no-such-flag"},
	} {
		code, _, errOut := runCLI(t, args...)
		require.Equal(t, 2, code, "%v: %s", args, errOut)
		require.Equal(t, 1, bytes.Count([]byte(errOut), []byte("\n")), "%v: one line: %q", args, errOut)
	}
	_, _, errOut := runCLI(t, "plan", "--tunings", "bypass-contrack", "--kernel", "6.1")
	require.Contains(t, errOut, `did you mean "bypass-conntrack"`)
}

func TestOptionsListsEveryOption(t *testing.T) {
	code, out, _ := runCLI(t, "options", "-o", "json")
	require.Equal(t, 0, code)
	var cat struct {
		Options []struct {
			Key             string
			StatusChecks    []string
			BehaviourChecks []string
		}
		Checks []struct{ Name string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &cat))
	require.Len(t, cat.Options, 16)
	for _, o := range cat.Options {
		require.NotEmpty(t, o.StatusChecks, o.Key)
		require.NotEmpty(t, o.BehaviourChecks, o.Key)
	}
	code, out, _ = runCLI(t, "options")
	require.Equal(t, 0, code)
	require.Contains(t, out, "bypass-conntrack")
	require.Contains(t, out, "4.19.57 / 5.1.16 / 5.2")
}

func TestMatrix(t *testing.T) {
	code, out, _ := runCLI(t, "matrix", "--profiles", "baseline,netkit", "--kernels", "4.19.57,6.6", "-o", "json")
	require.Equal(t, 0, code)
	var rows []struct {
		Profile, Kernel, Pruned string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.Len(t, rows, 4)
	require.Contains(t, rows[0].Pruned, "needs kernel >= 5.10")
}
