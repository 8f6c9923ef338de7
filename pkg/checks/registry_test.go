package checks

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

func TestEveryCatalogCheckIsImplemented(t *testing.T) {
	catalog := map[string]bool{}
	for _, c := range tuning.Checks() {
		catalog[c.Name] = true
		require.True(t, Implemented(c.Name), "check %s has no implementation", c.Name)
	}
	for _, n := range Names() {
		require.True(t, catalog[n], "implementation %s is not a catalog check", n)
	}
	require.Len(t, Names(), len(tuning.Checks()))
}

func TestEveryStatusCheckHasAField(t *testing.T) {
	for _, c := range tuning.Checks() {
		if c.Kind == tuning.Status && len(c.Name) > 7 && c.Name[:7] == "status." {
			_, ok := statusFields[c.Name]
			require.True(t, ok, "status check %s reads no field", c.Name)
		}
	}
}

// A planned skip is a SKIP with the planner's reason, and nothing runs.
func TestRunReturnsThePlannedSkip(t *testing.T) {
	env := &Env{Profile: "seed-part8", Log: testLog{t}}
	v := Run(context.Background(), env, plan.PlannedCheck{
		Check: "bandwidth.fq-qdisc", Option: "bandwidth-manager", Expect: verdict.ExpectPass,
		Skip: "kernel built without CONFIG_NET_SCH_FQ (no fq qdisc)",
	})
	require.Equal(t, verdict.Skip, v.Result)
	require.Equal(t, "kernel built without CONFIG_NET_SCH_FQ (no fq qdisc)", v.Reason)
	require.Equal(t, "seed-part8", v.Profile)
	require.Equal(t, "bandwidth-manager", v.Option)
	require.Equal(t, verdict.ExpectPass, v.Expect)
	require.Empty(t, v.Mechanism)
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(string(p))
	return len(p), nil
}
