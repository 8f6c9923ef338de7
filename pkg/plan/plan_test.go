package plan

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

var cilium120 = tuning.CiliumVersion{Major: 1, Minor: 20, Patch: 2}

func kindFacts(t *testing.T) Facts {
	f, err := DefaultFacts(Kind, "tc")
	require.NoError(t, err)
	return f
}

func request(t *testing.T, k string, opts ...tuning.Key) Request {
	return Request{Options: opts, Kernel: kernel.MustParse(k), CiliumVersion: cilium120, Facts: kindFacts(t)}
}

func errorsFor(p *Plan, option string) []string {
	var out []string
	for _, f := range p.Errors {
		if f.Option == option {
			out = append(out, f.Reason)
		}
	}
	return out
}

// closure adds, recursively, the first option of every need: the smallest set
// that satisfies an option's prerequisites.
func closure(k tuning.Key) []tuning.Key {
	set := map[tuning.Key]bool{}
	var add func(tuning.Key)
	add = func(k tuning.Key) {
		if set[k] {
			return
		}
		set[k] = true
		o, _ := tuning.Lookup(k)
		for _, n := range o.Requires {
			add(n.AnyOf[0])
		}
	}
	add(k)
	var out []tuning.Key
	for k := range set {
		out = append(out, k)
	}
	return tuning.Sorted(out)
}

// Every prerequisite rule of the catalog, each with a passing case (all needs
// met) and a failing case (that one need taken away).
func TestEveryPrerequisiteRule(t *testing.T) {
	for _, o := range tuning.Options() {
		full := closure(o.Key)
		p := New(request(t, "6.18", full...))
		require.Empty(t, errorsFor(p, string(o.Key)), "%s with %v", o.Key, full)

		for _, need := range o.Requires {
			t.Run(string(o.Key)+" needs "+string(need.AnyOf[0]), func(t *testing.T) {
				var without []tuning.Key
				for _, k := range full {
					if !containsKey(need.AnyOf, k) {
						without = append(without, k)
					}
				}
				p := New(request(t, "6.18", without...))
				errs := errorsFor(p, string(o.Key))
				require.NotEmpty(t, errs, "%s without %v must be an error", o.Key, need.AnyOf)
				require.Contains(t, strings.Join(errs, "\n"), string(need.AnyOf[0]))
				require.False(t, p.Runnable)
			})
		}
	}
}

func containsKey(ks []tuning.Key, k tuning.Key) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// The acceptance case: the bypass alone names each missing prerequisite.
func TestBypassConntrackAloneNamesEveryMissingPrerequisite(t *testing.T) {
	p := New(request(t, "6.1", tuning.BypassConntrack))
	errs := strings.Join(errorsFor(p, "bypass-conntrack"), "\n")
	require.Contains(t, errs, "native-routing")
	require.Contains(t, errs, "kube-proxy-replacement")
	require.Contains(t, errs, "bpf-masquerade (or enableIPv4Masquerade=false)")
	require.Len(t, p.Errors, 3)
	require.False(t, p.Runnable)

	p = New(request(t, "6.1", tuning.BypassConntrack, tuning.NativeRouting, tuning.KubeProxyReplacement, tuning.BPFMasquerade))
	require.Empty(t, p.Errors)
	require.True(t, p.Runnable)
	v, _ := GetPath(p.Values, "installNoConntrackIptablesRules")
	require.Equal(t, true, v)
	v, _ = GetPath(p.Values, "ipv4NativeRoutingCIDR")
	require.Equal(t, KindPodCIDR, v, "without ipv4NativeRoutingCIDR Cilium installs no NOTRACK rule")
	v, _ = GetPath(p.Values, "k8sServiceHost")
	require.Equal(t, "tc-control-plane", v)
}

func TestBypassConntrackWithMasqueradingOff(t *testing.T) {
	req := request(t, "6.1", tuning.BypassConntrack, tuning.NativeRouting, tuning.KubeProxyReplacement)
	req.Values = map[string]any{"enableIPv4Masquerade": false}
	p := New(req)
	require.Empty(t, p.Errors, "no masquerading satisfies 'eBPF masquerading or none'")
	req.Values = map[string]any{"enableIPv4Masquerade": true}
	require.NotEmpty(t, New(req).Errors)
}

func TestDSRWithGeneveDispatchNeedsNoNativeRouting(t *testing.T) {
	req := request(t, "6.1", tuning.DSR, tuning.KubeProxyReplacement)
	require.NotEmpty(t, errorsFor(New(req), "dsr"))
	req.Values = map[string]any{"loadBalancer.dsrDispatch": "geneve"}
	require.Empty(t, New(req).Errors)
}

func TestHostRoutingConflictsWithLegacyRouting(t *testing.T) {
	req := request(t, "6.1", tuning.KubeProxyReplacement, tuning.BPFMasquerade, tuning.BPFHostRouting)
	require.Empty(t, New(req).Errors)
	req.Values = map[string]any{"bpf.hostLegacyRouting": true}
	errs := errorsFor(New(req), "bpf-host-routing")
	require.Len(t, errs, 1)
	require.Contains(t, errs[0], "bpf.hostLegacyRouting=true")
}

func TestKernelSkips(t *testing.T) {
	seed := []tuning.Key{tuning.NativeRouting, tuning.KubeProxyReplacement, tuning.BPFMasquerade, tuning.BypassConntrack}
	// Cilium 1.14 still ran on 4.19/5.1 kernels; the bypass needs the backports.
	old := tuning.CiliumVersion{Major: 1, Minor: 14}
	for k, want := range map[string]bool{"5.1.15": false, "5.1.16": true, "4.19.57": true, "4.19.56": false, "5.2": true} {
		req := request(t, k, seed...)
		req.CiliumVersion = old
		p := New(req)
		require.Equal(t, want, p.Skipped(tuning.BypassConntrack) == "", "kernel %s: %v", k, p.Skips)
	}
	p := New(request(t, "6.1", tuning.NativeRouting, tuning.KubeProxyReplacement, tuning.BPFMasquerade, tuning.BPFHostRouting, tuning.IPv4BIGTCP))
	require.Equal(t, "needs kernel >= 6.3; this kernel is 6.1.0", p.Skipped(tuning.IPv4BIGTCP))
	p = New(request(t, "6.6", tuning.NativeRouting, tuning.KubeProxyReplacement, tuning.BPFMasquerade, tuning.BPFHostRouting, tuning.IPv4BIGTCP))
	require.Empty(t, p.Skipped(tuning.BPFHostRouting))
	require.Contains(t, p.Skipped(tuning.IPv4BIGTCP), "NIC driver veth does not support it")
}

func TestCiliumItselfNeedsItsKernel(t *testing.T) {
	p := New(request(t, "4.19.57", tuning.KubeProxyReplacement))
	require.Equal(t, []string{"Cilium 1.20.2 needs kernel >= 5.10; this kernel is 4.19.57"}, errorsFor(p, "cilium"))
}

func TestCiliumVersionSkips(t *testing.T) {
	req := request(t, "6.18", closure(tuning.Netkit)...)
	req.CiliumVersion = tuning.CiliumVersion{Major: 1, Minor: 15, Patch: 7}
	require.Contains(t, New(req).Skipped(tuning.Netkit), "needs Cilium >= 1.16")
}

func TestKernelConfigSkipsAndPropagates(t *testing.T) {
	cfg := kernel.Config{"CONFIG_TCP_CONG_BBR": "y"} // no CONFIG_NET_SCH_FQ, no CONFIG_NETKIT
	req := request(t, "6.18", append(closure(tuning.BBR), tuning.Netkit, tuning.NativeRouting)...)
	req.KernelConfig = cfg
	p := New(req)
	require.Equal(t, "kernel built without CONFIG_NET_SCH_FQ (no fq qdisc)", p.Skipped(tuning.BandwidthManager))
	require.Equal(t, "requires bandwidth-manager, which is skipped here", p.Skipped(tuning.BBR))
	require.Equal(t, "kernel built without CONFIG_NETKIT (no netkit devices)", p.Skipped(tuning.Netkit))
	require.Empty(t, p.Skipped(tuning.BPFHostRouting))
	_, set := GetPath(p.Values, "bandwidthManager")
	require.False(t, set, "a skipped option's values are not installed")
	for _, c := range p.CheckPlan {
		if c.Check == "bandwidth.fq-qdisc" {
			require.NotEmpty(t, c.Skip)
		}
	}
	require.NotContains(t, p.Checks, "bandwidth.fq-qdisc")
	require.False(t, p.Runnable, "skips make a plan not fully runnable")
	require.Empty(t, p.Errors)
}

func TestXDPNeedsANativeDriver(t *testing.T) {
	opts := closure(tuning.XDPAcceleration)
	req := request(t, "6.1", opts...)
	require.Empty(t, New(req).Skipped(tuning.XDPAcceleration), "veth has native XDP")
	req.Facts.NIC = "e1000"
	require.Contains(t, New(req).Skipped(tuning.XDPAcceleration), "no native XDP")
	req.Facts.NIC = ""
	require.Contains(t, New(req).Skipped(tuning.XDPAcceleration), "pass --nic")
}

func TestJumboMTUNeedsTheNodeNetwork(t *testing.T) {
	p := New(request(t, "6.1", tuning.JumboMTU))
	require.Empty(t, p.Skips, "kind creates its network with the MTU asked for")
	require.Equal(t, 9000, p.NodeMTU)

	req := request(t, "6.1", tuning.JumboMTU)
	req.Facts = Facts{Provider: Existing, PodCIDR: "10.0.0.0/16", NodeMTU: 1500}
	require.Equal(t, "needs a node network with MTU 9000; the nodes run 1500", New(req).Skipped(tuning.JumboMTU))
	req.Facts.NodeMTU = 9001
	require.Empty(t, New(req).Skips)
}

func TestBIGTCPNeedsNICAndIPv6(t *testing.T) {
	req := request(t, "6.1", closure(tuning.IPv6BIGTCP)...)
	req.Facts.NIC = "mlx5_core"
	require.Equal(t, "the cluster has no IPv6 pod addressing", New(req).Skipped(tuning.IPv6BIGTCP))
	req.Facts.IPv6 = true
	require.Empty(t, New(req).Skips)
	req.Kernel = kernel.MustParse("5.18")
	require.Equal(t, "needs kernel >= 5.19; this kernel is 5.18.0", New(req).Skipped(tuning.IPv6BIGTCP))
}

// Credit the right mechanism: with KPR and BPF masquerading on a 5.10+ kernel
// Cilium adds BPF host routing by itself, and the conntrack check credits it.
func TestConntrackCreditFollowsHostRouting(t *testing.T) {
	seed := []tuning.Key{tuning.NativeRouting, tuning.KubeProxyReplacement, tuning.BPFMasquerade, tuning.DSR, tuning.BypassConntrack}
	p := New(request(t, "6.1", seed...))
	require.True(t, p.Active(tuning.BPFHostRouting))
	require.Equal(t, "bpf-host-routing", p.Implied[0].Option)
	ct := checkPlan(t, p, "conntrack.flat-pod-to-pod")
	require.Equal(t, "bpf-host-routing", ct.Credits)
	require.Equal(t, []string{"bypass-conntrack"}, ct.Masked)

	req := request(t, "6.1", seed...)
	req.Values = map[string]any{"bpf.hostLegacyRouting": true}
	p = New(req)
	require.False(t, p.Active(tuning.BPFHostRouting))
	ct = checkPlan(t, p, "conntrack.flat-pod-to-pod")
	require.Equal(t, "bypass-conntrack", ct.Credits)
	require.Empty(t, ct.Masked)

	// Below 5.10 there is no host routing to imply.
	old := request(t, "5.4", seed...)
	old.CiliumVersion = tuning.CiliumVersion{Major: 1, Minor: 16}
	require.Empty(t, New(old).Implied)
}

func TestNegativeControls(t *testing.T) {
	req := request(t, "6.1")
	req.NegativeControls = []string{"conntrack.flat-pod-to-pod", "dsr.client-ip-preserved"}
	p := New(req)
	require.Empty(t, p.Errors)
	require.Equal(t, verdict.ExpectFail, checkPlan(t, p, "dsr.client-ip-preserved").Expect)
	require.True(t, p.KubeProxy)

	// A negative control whose mechanism is active cannot fail.
	req = request(t, "6.1", tuning.KubeProxyReplacement, tuning.BPFMasquerade)
	req.NegativeControls = []string{"conntrack.flat-pod-to-pod"}
	errs := errorsFor(New(req), "conntrack.flat-pod-to-pod")
	require.Equal(t, []string{"negative control cannot fail: bpf-host-routing is active"}, errs)
}

func TestExistingClusterNeedsPodCIDRAndAPIServer(t *testing.T) {
	req := request(t, "6.1", tuning.NativeRouting, tuning.KubeProxyReplacement)
	req.Facts = Facts{Provider: Existing}
	errs := New(req).Errors
	require.Len(t, errs, 2)
	require.Contains(t, errs[0].Reason+errs[1].Reason, "--pod-cidr")
	require.Contains(t, errs[0].Reason+errs[1].Reason, "--api-server")
}

func TestValuesNestForHelm(t *testing.T) {
	p := New(request(t, "6.1", closure(tuning.DistributedLRU)...))
	bpf, ok := p.Values["bpf"].(map[string]any)
	require.True(t, ok)
	require.Equal(t, 0.08, bpf["mapDynamicSizeRatio"])
	require.Equal(t, map[string]any{"enabled": true}, bpf["distributedLRU"])
	require.Equal(t, "kubernetes", p.Values["ipam"].(map[string]any)["mode"])
	require.Equal(t, map[string]any{"bpf.distributedLRU.enabled": true, "bpf.mapDynamicSizeRatio": 0.08, "ipam.mode": "kubernetes"}, Flatten(p.Values))
}

func checkPlan(t *testing.T, p *Plan, name string) PlannedCheck {
	for _, c := range p.CheckPlan {
		if c.Check == name {
			return c
		}
	}
	t.Fatalf("check %s not planned: %+v", name, p.CheckPlan)
	return PlannedCheck{}
}

func TestEveryPlanRunsTheClusterWideChecks(t *testing.T) {
	for _, p := range []*Plan{New(request(t, "6.1")), New(request(t, "6.1", closure(tuning.DSR)...))} {
		for _, name := range []string{tuning.CheckConnectivity, tuning.CheckThroughputPodToPod, tuning.CheckThroughputToService} {
			c := checkPlan(t, p, name)
			require.Equal(t, verdict.ExpectPass, c.Expect)
			require.Empty(t, c.Option)
			require.Contains(t, p.Checks, name)
		}
	}
}

func TestXDPExcludesJumboMTU(t *testing.T) {
	req := request(t, "6.18", append(closure(tuning.XDPAcceleration), tuning.JumboMTU)...)
	errs := errorsFor(New(req), "xdp-acceleration")
	require.Len(t, errs, 1)
	require.Contains(t, errs[0], "cannot run with jumbo-mtu")
	require.Empty(t, New(request(t, "6.18", closure(tuning.XDPAcceleration)...)).Errors)
}
