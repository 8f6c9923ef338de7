package probe_test

import (
	"cmp"
	"context"
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/probe/probetest"
)

// richRouter gives a Chain's router something for every probe: XDP in both
// modes, tc and tcx programs, BIG TCP and jumbo MTU, a native-routing
// route, NOTRACK and NAT rules in both backends, and conntrack entries.
func richRouter(t testing.TB) *probetest.Chain {
	t.Helper()
	c := probetest.NewChain(t)
	r := c.Router
	r.AttachXDP(t, "r-c", probetest.XDPPass(t, "tcil_xdp_drv"), link.XDPDriverMode)
	r.AttachXDP(t, "r-s", probetest.XDPPass(t, "tcil_xdp_skb"), link.XDPGenericMode)
	r.AttachClassicTC(t, "r-c", probetest.TCPass(t, "tcil_cls_in"), false)
	r.AttachTCX(t, "r-s", probetest.TCPass(t, "tcil_tcx_eg"), ebpf.AttachTCXEgress)
	rc := r.Link(t, "r-c")
	must(t, r.NL.LinkSetGSOMaxSize(rc, 196608))
	must(t, r.NL.LinkSetGROMaxSize(rc, 196608))
	must(t, r.NL.LinkSetMTU(r.Link(t, "r-s"), 9000))
	r.Route(t, "10.244.1.0/24", "10.201.2.2")
	c.EnableConntrack(t, "nft")
	r.Iptables(t, "nft", "-t", "raw", "-A", "PREROUTING", "-s", "10.244.0.0/16", "-m", "comment", "--comment", "cilium: NOTRACK for pod traffic", "-j", "CT", "--notrack")
	r.Iptables(t, "legacy", "-t", "raw", "-A", "PREROUTING", "-d", "10.244.0.0/16", "-j", "NOTRACK")
	r.Iptables(t, "nft", "-t", "nat", "-A", "POSTROUTING", "-s", c.ClientNet.String(), "-o", "r-s", "-m", "comment", "--comment", "cilium masquerade non-cluster", "-j", "MASQUERADE")
	r.Iptables(t, "legacy", "-t", "nat", "-A", "POSTROUTING", "-s", "10.88.0.0/16", "-j", "SNAT", "--to-source", "10.201.2.1")
	probetest.ServeEcho(t, c.Server.Open(t))
	probetest.Burst(t, c.Client.Open(t), c.ServerIP.String()+":8080", 7)
	return c
}

// TestExecPathMatchesNamespacePath reads one namespace twice, by netlink
// from inside it and through `ip netns exec` with the node tools, and
// requires the same evidence, except what the tools cannot show (tcx
// programs; IPv4 BIG TCP sizes with iproute2 < 6.3), which is asserted
// to be reported as missing rather than as a different value.
func TestExecPathMatchesNamespacePath(t *testing.T) {
	c := richRouter(t)
	ctx := context.Background()
	ns := c.Router.Open(t)
	ex := probe.Via("netns "+c.Router.Name+" (exec)", probe.NetNSExec(c.Router.Name))

	a, b := inspectBoth(t, ns, ex)
	if a.Access != "namespace" || b.Access != "exec" {
		t.Errorf("access: %s and %s", a.Access, b.Access)
	}

	// tcx: only the namespace path sees it; classic tc must agree.
	if !a.TC.TCXListed || b.TC.TCXListed || b.TC.TCXNote == "" {
		t.Errorf("tcx listing: namespace %v, exec %v (note %q)", a.TC.TCXListed, b.TC.TCXListed, b.TC.TCXNote)
	}
	var classic []probe.TCProgram
	sawTCX := false
	for _, p := range a.TC.Programs {
		if p.Attach == probe.AttachTC {
			classic = append(classic, p)
		} else if p.Device == "r-s" && p.Direction == probe.Egress && p.ProgramName == "tcil_tcx_eg" {
			sawTCX = true
		}
	}
	if !sawTCX {
		t.Errorf("namespace path missed the tcx program: %+v", a.TC.Programs)
	}
	equal(t, "classic tc programs", classic, b.TC.Programs)

	requireSameEvidence(t, a, b)
	equal(t, "iptables reads", a.IPTables, b.IPTables)

	// The evidence is not empty: it says what was set up.
	if len(a.Conntrack.NotrackRules) != 2 || len(a.NAT.MasqueradeRules) != 2 || a.Conntrack.Entries < 7 {
		t.Errorf("conntrack %+v, nat %+v", a.Conntrack, a.NAT)
	}

	mine := probe.ConntrackFilter{CIDRs: []netip.Prefix{c.ClientNet}, Protocol: "tcp"}
	ea, err := ns.ConntrackEntries(ctx, mine)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := ex.ConntrackEntries(ctx, mine)
	if err != nil {
		t.Fatal(err)
	}
	byTuple := func(x, y probe.ConntrackEntry) int { return cmp.Compare(x.Original.SourcePort, y.Original.SourcePort) }
	slices.SortFunc(ea, byTuple)
	slices.SortFunc(eb, byTuple)
	if len(ea) != 7 {
		t.Errorf("%d entries for the 7 connections", len(ea))
	}
	equal(t, "conntrack entries", ea, eb)
}

// inspectBoth inspects one node through two paths and fails on any probe
// error.
func inspectBoth(t *testing.T, entered, exec *probe.Node) (probe.Report, probe.Report) {
	t.Helper()
	var reports [2]probe.Report
	for i, n := range []*probe.Node{entered, exec} {
		r, err := n.Inspect(context.Background(), probe.InspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Errors) > 0 {
			t.Fatalf("probe errors through %s (%s): %v", n.Name(), r.Access, r.Errors)
		}
		reports[i] = r
	}
	t.Logf("inspect took %s entering the namespace, %s through exec", reports[0].Took, reports[1].Took)
	return reports[0], reports[1]
}

// requireSameEvidence compares what both paths can see. IPv4 BIG TCP
// sizes may be nil on the exec path, only when iproute2 omits them.
func requireSameEvidence(t *testing.T, a, b probe.Report) {
	t.Helper()
	for i := range b.Devices {
		if b.Devices[i].GSOIPv4MaxSize == nil {
			t.Logf("%s: iproute2 in the node does not print gso_ipv4_max_size; the exec path reports it as unknown", b.Devices[i].Name)
			a.Devices[i].GSOIPv4MaxSize, a.Devices[i].GROIPv4MaxSize = nil, nil
		}
	}
	equal(t, "devices", a.Devices, b.Devices)
	equal(t, "xdp", a.XDP, b.XDP)
	equal(t, "routes", a.Routes, b.Routes)
	equal(t, "conntrack", a.Conntrack, b.Conntrack)
	equal(t, "nat", a.NAT, b.NAT)
	equal(t, "congestion control", a.CongestionControl, b.CongestionControl)
}

func equal(t *testing.T, what string, a, b any) {
	t.Helper()
	if !reflect.DeepEqual(a, b) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		t.Errorf("%s differ:\nnamespace: %s\nexec:      %s", what, ja, jb)
	}
}
