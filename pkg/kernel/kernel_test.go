package kernel

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]Version{
		"6.1":               {6, 1, 0},
		"5.15.0":            {5, 15, 0},
		"6.18.44-fc-v595":   {6, 18, 44},
		"v6.6":              {6, 6, 0},
		"4.18.0-553.el8_10": {4, 18, 0},
		"5.10.0+":           {5, 10, 0},
	} {
		got, err := Parse(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "6", "six.one", "6.x", "1.2.3.4", "600.1", "rhel8"} {
		_, err := Parse(bad)
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), "kernel version", bad)
	}
}

func TestRequirementBackports(t *testing.T) {
	r := Backports("4.19.57", "5.1.16", "5.2")
	met := []string{"4.19.57", "4.19.200", "5.1.16", "5.2", "5.10", "6.18"}
	unmet := []string{"4.19.56", "4.20", "5.0.21", "5.1.15", "4.14.300"}
	for _, s := range met {
		require.True(t, r.MetBy(MustParse(s)), s)
	}
	for _, s := range unmet {
		require.False(t, r.MetBy(MustParse(s)), s)
	}
	require.Equal(t, "4.19.57 / 5.1.16 / 5.2", r.String())
	require.True(t, Requirement(nil).MetBy(MustParse("3.10")))
	require.Equal(t, "5.10", Min("5.10").String())
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(strings.NewReader("# comment\nCONFIG_NET_SCH_FQ=m\n# CONFIG_NETKIT is not set\nCONFIG_PREEMPT_NONE=y\nCONFIG_LOCALVERSION=\"-x\"\n"))
	require.NoError(t, err)
	require.True(t, c.Built("CONFIG_NET_SCH_FQ"))
	require.True(t, c.Built("CONFIG_PREEMPT_NONE"))
	require.False(t, c.Built("CONFIG_NETKIT"))
	require.Equal(t, "-x", c["CONFIG_LOCALVERSION"])
}

// The running kernel and its config are real inputs of the planner: read
// them here the same way.
func TestRunningKernel(t *testing.T) {
	v, err := Running()
	require.NoError(t, err)
	require.GreaterOrEqual(t, v.Major, 3)
	c, src, err := ReadConfig()
	if err != nil {
		t.Skipf("this kernel publishes no config: %v", err)
	}
	require.NotEmpty(t, src)
	require.True(t, c.Built("CONFIG_BPF"), "a kernel that runs these tests has BPF")
}
