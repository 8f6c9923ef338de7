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
