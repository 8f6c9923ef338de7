package tuning

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
)

// The keys the project promises, in this order.
var wantKeys = []Key{
	"native-routing", "kube-proxy-replacement", "bpf-masquerade", "dsr", "bypass-conntrack",
	"bpf-host-routing", "ipv6-big-tcp", "ipv4-big-tcp", "bandwidth-manager", "bbr",
	"xdp-acceleration", "jumbo-mtu", "hubble-disabled", "bpf-map-size", "netkit", "distributed-lru",
}

func TestCatalogKeys(t *testing.T) {
	require.Equal(t, wantKeys, Keys())
}

func TestEveryOptionHasAStatusAndABehaviouralCheck(t *testing.T) {
	for _, o := range Options() {
		require.NotEmpty(t, o.StatusChecks, o.Key)
		require.NotEmpty(t, o.BehaviourChecks, o.Key)
		for _, name := range o.StatusChecks {
			c, ok := LookupCheck(name)
			require.True(t, ok, "%s: unknown status check %s", o.Key, name)
			require.Equal(t, Status, c.Kind, "%s: %s", o.Key, name)
			require.Contains(t, c.Mechanisms, o.Key, "%s: %s does not observe it", o.Key, name)
		}
		for _, name := range o.BehaviourChecks {
			c, ok := LookupCheck(name)
			require.True(t, ok, "%s: unknown behavioural check %s", o.Key, name)
			require.Contains(t, []CheckKind{Kernel, Behaviour}, c.Kind, "%s: %s", o.Key, name)
			require.Contains(t, c.Mechanisms, o.Key, "%s: %s does not observe it", o.Key, name)
		}
		require.NotEmpty(t, o.AgentConfig, o.Key)
		require.NotEmpty(t, o.Since, o.Key)
	}
}

func TestRequirementsNameCatalogOptions(t *testing.T) {
	for _, o := range Options() {
		for _, n := range o.Requires {
			require.NotEmpty(t, n.AnyOf, o.Key)
			require.NotEmpty(t, n.Why, o.Key)
			for _, k := range n.AnyOf {
				_, ok := Lookup(k)
				require.True(t, ok, "%s requires unknown %s", o.Key, k)
				require.NotEqual(t, o.Key, k)
			}
		}
		for _, x := range o.Excludes {
			_, ok := Lookup(x.Key)
			require.True(t, ok, "%s excludes unknown %s", o.Key, x.Key)
			require.NotEmpty(t, x.Why)
		}
	}
}

func TestChecksAreUniqueAndExplained(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks() {
		require.False(t, seen[c.Name], "duplicate check %s", c.Name)
		seen[c.Name] = true
		require.NotEmpty(t, c.Title, c.Name)
		require.NotEmpty(t, c.Evidence, c.Name)
		require.NotEmpty(t, c.NegativeControl, c.Name)
	}
}

func TestParseSuggestsClosestKey(t *testing.T) {
	k, err := Parse("dsr")
	require.NoError(t, err)
	require.Equal(t, DSR, k)

	_, err = Parse("bypass-contrack")
	require.ErrorContains(t, err, `unknown tuning "bypass-contrack": did you mean "bypass-conntrack"?`)
	_, err = Parse("xdp")
	require.ErrorContains(t, err, `did you mean "xdp-acceleration"`)
	_, err = Parse("hubble")
	require.ErrorContains(t, err, `did you mean "hubble-disabled"`)
	_, err = Parse("completely-different-thing")
	require.ErrorContains(t, err, "unknown tuning")

	_, err = ParseCheck("conntrack.flat")
	require.ErrorContains(t, err, `did you mean "conntrack.flat-pod-to-pod"`)
}

// Conntrack stays flat under BPF host routing whether or not the NOTRACK rules
// exist: with both active the check credits host routing and masks the bypass.
func TestCreditTheRightMechanism(t *testing.T) {
	c, ok := LookupCheck("conntrack.flat-pod-to-pod")
	require.True(t, ok)
	activeSet := func(ks ...Key) func(Key) bool {
		return func(k Key) bool {
			for _, x := range ks {
				if x == k {
					return true
				}
			}
			return false
		}
	}

	credited, masked, ok := c.Credit(activeSet(BPFHostRouting, BypassConntrack))
	require.True(t, ok)
	require.Equal(t, BPFHostRouting, credited)
	require.Equal(t, []Key{BypassConntrack}, masked)

	credited, masked, ok = c.Credit(activeSet(BypassConntrack))
	require.True(t, ok)
	require.Equal(t, BypassConntrack, credited)
	require.Empty(t, masked)

	_, _, ok = c.Credit(activeSet(DSR))
	require.False(t, ok, "no mechanism of the check is active: nothing to credit")
}

func TestNativeXDPDrivers(t *testing.T) {
	ok, _ := NativeXDP("veth", kernel.MustParse("6.1"))
	require.True(t, ok)
	ok, why := NativeXDP("veth", kernel.MustParse("4.14"))
	require.False(t, ok)
	require.Contains(t, why, "from kernel 4.19")
	ok, why = NativeXDP("vmxnet3", kernel.MustParse("6.1"))
	require.False(t, ok)
	require.Contains(t, why, "6.6")
	ok, why = NativeXDP("e1000", kernel.MustParse("6.18"))
	require.False(t, ok)
	require.Contains(t, why, "no native XDP")
}

func TestCiliumBaseKernel(t *testing.T) {
	for v, want := range map[string]string{"1.13.0": "4.19.57", "1.15.7": "4.19.57", "1.16.0": "5.4", "1.17.3": "5.4", "1.18.0": "5.10", "1.20.2": "5.10"} {
		cv, err := ParseCiliumVersion(v)
		require.NoError(t, err)
		require.Equal(t, want, CiliumBaseKernel(cv).String(), v)
	}
	for _, bad := range []string{"2.0", "latest", "1", "1.20.2.1"} {
		_, err := ParseCiliumVersion(bad)
		require.Error(t, err, bad)
	}
	v, err := ParseCiliumVersion("v1.20.2")
	require.NoError(t, err)
	require.Equal(t, "1.20.2", v.String())
}

func TestHostAuditItems(t *testing.T) {
	keys := map[string]bool{}
	for _, h := range HostAudit() {
		keys[h.Key] = true
		require.NotEmpty(t, h.Want)
	}
	for _, k := range []string{"tuned-profile", "cpu-governor", "irqbalance", "nic-irq-affinity", "preempt-none"} {
		require.True(t, keys[k], k)
	}
}
