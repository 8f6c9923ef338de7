package verdict

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMet(t *testing.T) {
	for _, c := range []struct {
		v    Verdict
		want bool
	}{
		{Verdict{Result: Pass, Expect: ExpectPass}, true},
		{Verdict{Result: Fail, Expect: ExpectPass}, false},
		{Verdict{Result: Fail, Expect: ExpectFail}, true},
		{Verdict{Result: Pass, Expect: ExpectFail}, false},
		{Verdict{Result: Skip, Expect: ExpectPass}, true},
		{Verdict{Result: Skip, Expect: ExpectFail}, true},
		// A negative control whose measurement broke is not met.
		{Verdict{Result: Fail, Expect: ExpectFail, Error: "exec: pod not found"}, false},
		{Verdict{Result: Fail, Expect: ExpectPass, Error: "timed out"}, false},
	} {
		require.Equal(t, c.want, c.v.Met(), "%+v", c.v)
	}
	require.Contains(t, Verdict{Result: Fail, Expect: ExpectFail, Error: "x"}.String(), "not measured")
}
