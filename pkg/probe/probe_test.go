package probe_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/probe/probetest"
)

func progID(t testing.TB, p *ebpf.Program) uint32 {
	t.Helper()
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := info.ID()
	if !ok {
		t.Fatal("kernel gives no program id")
	}
	return uint32(id)
}

func TestXDPModes(t *testing.T) {
	ns := probetest.NewNetNS(t, "xdp")
	probetest.Veth(t, ns, "v-native", "", ns, "v-generic", "")
	probetest.Veth(t, ns, "v-none", "", ns, "v-peer", "")
	native := probetest.XDPPass(t, "tcil_xdp_drv")
	generic := probetest.XDPPass(t, "tcil_xdp_skb")
	ns.AttachXDP(t, "v-native", native, link.XDPDriverMode)
	ns.AttachXDP(t, "v-generic", generic, link.XDPGenericMode)

	got, err := ns.Open(t).XDP(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]probe.XDPAttachment{
		"lo":        {Device: "lo", Mode: probe.XDPNone},
		"v-native":  {Device: "v-native", Attached: true, Mode: probe.XDPNative, ProgramID: progID(t, native), ProgramName: "tcil_xdp_drv"},
		"v-generic": {Device: "v-generic", Attached: true, Mode: probe.XDPGeneric, ProgramID: progID(t, generic), ProgramName: "tcil_xdp_skb"},
		"v-none":    {Device: "v-none", Mode: probe.XDPNone}, // negative control
		"v-peer":    {Device: "v-peer", Mode: probe.XDPNone},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d attachments, want %d: %+v", len(got), len(want), got)
	}
	for _, a := range got {
		if a != want[a.Device] {
			t.Errorf("%s: got %+v, want %+v", a.Device, a, want[a.Device])
		}
	}
}

func TestTCAndTCXPrograms(t *testing.T) {
	ns := probetest.NewNetNS(t, "tc")
	probetest.Veth(t, ns, "v0", "", ns, "v1", "")
	tcx := probetest.TCPass(t, "tcil_tcx_in")
	classic := probetest.TCPass(t, "tcil_cls_eg")
	ns.AttachTCX(t, "v0", tcx, ebpf.AttachTCXIngress)
	ns.AttachClassicTC(t, "v0", classic, true)

	got, err := ns.Open(t).TC(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !got.TCXListed {
		t.Error("tcx hooks not listed on the namespace path")
	}
	wantIn := []probe.TCProgram{{Device: "v0", Direction: probe.Ingress, Attach: probe.AttachTCX, ProgramID: progID(t, tcx), ProgramName: "tcil_tcx_in"}}
	wantEg := []probe.TCProgram{{Device: "v0", Direction: probe.Egress, Attach: probe.AttachTC, ProgramID: progID(t, classic), ProgramName: "tcil_cls_eg"}}
	if in := got.On("v0", probe.Ingress); fmt.Sprint(in) != fmt.Sprint(wantIn) {
		t.Errorf("v0 ingress: got %+v, want %+v", in, wantIn)
	}
	if eg := got.On("v0", probe.Egress); fmt.Sprint(eg) != fmt.Sprint(wantEg) {
		t.Errorf("v0 egress: got %+v, want %+v", eg, wantEg)
	}
	// Negative control: the peer has no program.
	if n := len(got.On("v1", probe.Ingress)) + len(got.On("v1", probe.Egress)); n != 0 {
		t.Errorf("v1 has %d programs, want none: %+v", n, got.Programs)
	}
}

func TestDevicesKindMTUBigTCPQdisc(t *testing.T) {
	ns := probetest.NewNetNS(t, "dev")
	probetest.Veth(t, ns, "v-big", "", ns, "v-plain", "")
	big := ns.Link(t, "v-big")
	must(t, ns.NL.LinkSetMTU(big, 9000))
	must(t, ns.NL.LinkSetGSOMaxSize(big, 131072))
	must(t, ns.NL.LinkSetGROMaxSize(big, 131072))
	must(t, ns.NL.LinkSetGSOIPv4MaxSize(big, 131072))
	must(t, ns.NL.LinkSetGROIPv4MaxSize(big, 131072))
	plain := ns.Link(t, "v-plain")
	must(t, ns.NL.QdiscAdd(netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: plain.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT})))
	must(t, ns.NL.LinkAdd(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "vx0", MTU: 1450}, VxlanId: 42, Port: 8472}))

	node := ns.Open(t)
	devs, err := node.Devices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	find := func(name string) probe.Device {
		for _, d := range devs {
			if d.Name == name {
				return d
			}
		}
		t.Fatalf("no device %s in %+v", name, devs)
		return probe.Device{}
	}
	b := find("v-big")
	if b.Kind != "veth" || b.MTU != 9000 || !b.BigTCPIPv6() || !b.BigTCPIPv4() || b.GSOMaxSize != 131072 || *b.GROIPv4MaxSize != 131072 || b.Qdisc != "noqueue" || b.FQ {
		t.Errorf("v-big: %+v", b)
	}
	p := find("v-plain") // negative control: defaults
	if p.Kind != "veth" || p.MTU != 1500 || p.BigTCPIPv6() || p.BigTCPIPv4() || p.Qdisc != "htb" || p.FQ {
		t.Errorf("v-plain: %+v", p)
	}
	if vx := find("vx0"); vx.Kind != "vxlan" || vx.MTU != 1450 || vx.Up {
		t.Errorf("vx0: %+v", vx)
	}
	if lo := find("lo"); lo.Kind != "device" || !lo.Up {
		t.Errorf("lo: %+v", lo)
	}
	if _, err := node.Device(context.Background(), "nope0"); !errors.Is(err, probe.ErrNoSuchDevice) {
		t.Errorf("Device(nope0) = %v, want ErrNoSuchDevice", err)
	}
	t.Log("fq detection is not exercised positively here: this kernel has no sch_fq (LAB.md)")
}

func TestRoutesNativeAndTunnel(t *testing.T) {
	c := probetest.NewChain(t)
	c.Router.Route(t, "10.244.1.0/24", "10.201.2.2") // native routing: a pod CIDR via the other node's IP
	must(t, c.Router.NL.LinkAdd(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "vx0"}, VxlanId: 7, Port: 8472}))
	c.Router.LinkUp(t, "vx0", "10.250.0.1/32")
	vx := c.Router.Link(t, "vx0")
	_, tunnelDst, _ := net.ParseCIDR("10.245.0.0/16")
	must(t, c.Router.NL.RouteAdd(&netlink.Route{LinkIndex: vx.Attrs().Index, Dst: tunnelDst, Scope: netlink.SCOPE_LINK}))

	node := c.Router.Open(t)
	ctx := context.Background()
	native, err := node.RoutesTo(ctx, netip.MustParsePrefix("10.244.1.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if len(native) != 1 || native[0].Gateway != c.ServerIP || native[0].Device != "r-s" || native[0].Protocol != "boot" || native[0].Type != "unicast" {
		t.Errorf("route to 10.244.1.0/24: %+v", native)
	}
	tunnel, err := node.RoutesTo(ctx, netip.MustParsePrefix("10.245.3.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tunnel) != 1 || tunnel[0].Device != "vx0" || tunnel[0].Gateway.IsValid() || tunnel[0].Scope != "link" {
		t.Errorf("route to 10.245.3.0/24: %+v", tunnel)
	}
	if d, err := node.Device(ctx, tunnel[0].Device); err != nil || d.Kind != "vxlan" {
		t.Errorf("device of the tunnel route: %+v, %v", d, err)
	}
	// Negative control: no route to a CIDR nobody announced.
	if none, err := node.RoutesTo(ctx, netip.MustParsePrefix("10.99.0.0/16")); err != nil || len(none) != 0 {
		t.Errorf("route to 10.99.0.0/16: %+v, %v", none, err)
	}
}

func TestCongestionControlPerNamespace(t *testing.T) {
	host, err := probe.Host()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	ctx := context.Background()
	before, err := host.CongestionControl(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bbr, reno := probetest.NewNetNS(t, "bbr"), probetest.NewNetNS(t, "reno")
	bbr.Sysctl(t, "net.ipv4.tcp_congestion_control", "bbr")
	reno.Sysctl(t, "net.ipv4.tcp_congestion_control", "reno")

	for ns, want := range map[*probetest.NetNS]string{bbr: "bbr", reno: "reno"} {
		cc, err := ns.Open(t).CongestionControl(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cc.Default != want || len(cc.Available) == 0 {
			t.Errorf("%s: %+v, want default %s", ns.Name, cc, want)
		}
	}
	after, err := host.CongestionControl(ctx)
	if err != nil || after.Default != before.Default {
		t.Errorf("host congestion control changed from %s to %+v (%v): namespaces leaked", before.Default, after, err)
	}
}

func TestConntrackEntriesAndNotrackRules(t *testing.T) {
	c := probetest.NewChain(t)
	c.EnableConntrack(t, "nft")
	client, router := c.Client.Open(t), c.Router.Open(t)
	probetest.ServeEcho(t, c.Server.Open(t))
	probetest.Burst(t, client, c.ServerIP.String()+":8080", 5)
	ctx := context.Background()

	mine := probe.ConntrackFilter{CIDRs: []netip.Prefix{c.ClientNet}, Protocol: "tcp"}
	entries, err := router.ConntrackEntries(ctx, mine)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Fatalf("router has %d tcp entries for %s, want 5: %+v", len(entries), c.ClientNet, entries)
	}
	for _, e := range entries {
		if e.Original.Source != c.ClientIP || e.Original.Destination != c.ServerIP || e.Original.DestinationPort != 8080 ||
			e.Reply.Source != c.ServerIP || e.Family != "ipv4" || e.State == "" {
			t.Errorf("entry %+v", e)
		}
	}
	// Negative controls: another CIDR, another protocol.
	for _, f := range []probe.ConntrackFilter{
		{CIDRs: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/16")}},
		{CIDRs: []netip.Prefix{c.ClientNet}, Protocol: "udp"},
	} {
		if n, err := router.ConntrackCount(ctx, f); err != nil || n != 0 {
			t.Errorf("filter %+v counted %d (%v), want 0", f, n, err)
		}
	}
	total, err := router.ConntrackCount(ctx, probe.ConntrackFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if cli := strings.TrimSpace(c.Router.Exec(t, "conntrack", "-C")); cli != strconv.Itoa(total) {
		t.Errorf("ConntrackCount = %d, conntrack -C = %s", total, cli)
	}

	// Cilium's NOTRACK rules (nf_tables), plus an old-style one in legacy.
	c.Router.Iptables(t, "nft", "-t", "raw", "-N", "CILIUM_PRE_raw")
	c.Router.Iptables(t, "nft", "-t", "raw", "-A", "PREROUTING", "-m", "comment", "--comment", "cilium-feeder: CILIUM_PRE_raw", "-j", "CILIUM_PRE_raw")
	c.Router.Iptables(t, "nft", "-t", "raw", "-A", "CILIUM_PRE_raw", "-s", "10.244.0.0/16", "-m", "comment", "--comment", "cilium: NOTRACK for pod traffic", "-j", "CT", "--notrack")
	c.Router.Iptables(t, "nft", "-t", "raw", "-A", "CILIUM_PRE_raw", "-d", "10.244.0.0/16", "-m", "comment", "--comment", "cilium: NOTRACK for pod traffic", "-j", "CT", "--notrack")
	c.Router.Iptables(t, "legacy", "-t", "raw", "-A", "OUTPUT", "-d", "10.77.0.0/16", "-j", "NOTRACK")
	tables, err := router.IPTables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nt := tables.Notrack()
	if len(nt) != 3 {
		t.Fatalf("got %d NOTRACK rules, want 3: %+v", len(nt), nt)
	}
	pod := netip.MustParsePrefix("10.244.0.0/16")
	if nt[0].Backend != probe.BackendLegacy || nt[0].CIDR != netip.MustParsePrefix("10.77.0.0/16") || nt[0].Matches != "destination" || nt[0].Target != "NOTRACK" {
		t.Errorf("legacy rule: %+v", nt[0])
	}
	if nt[1].Backend != probe.BackendNFT || nt[1].CIDR != pod || nt[1].Matches != "source" || nt[1].Chain != "CILIUM_PRE_raw" || nt[1].Comment != "cilium: NOTRACK for pod traffic" {
		t.Errorf("nft source rule: %+v", nt[1])
	}
	if nt[2].CIDR != pod || nt[2].Matches != "destination" {
		t.Errorf("nft destination rule: %+v", nt[2])
	}
	// Negative control: the server has no NOTRACK rule.
	st, err := c.Server.Open(t).IPTables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Notrack()); n != 0 {
		t.Errorf("server has %d NOTRACK rules, want 0", n)
	}
}

func TestNATRulesAndCounters(t *testing.T) {
	c := probetest.NewChain(t)
	c.Router.Iptables(t, "nft", "-t", "nat", "-A", "POSTROUTING", "-s", c.ClientNet.String(), "-o", "r-s",
		"-m", "comment", "--comment", "cilium masquerade non-cluster", "-j", "MASQUERADE")
	c.Router.Iptables(t, "legacy", "-t", "nat", "-A", "POSTROUTING", "-s", "10.88.0.0/16", "-j", "SNAT", "--to-source", "10.201.2.1")
	probetest.ServeEcho(t, c.Server.Open(t))
	probetest.Burst(t, c.Client.Open(t), c.ServerIP.String()+":8080", 3)

	tables, err := c.Router.Open(t).IPTables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	nat := tables.SourceNAT()
	if len(nat) != 2 {
		t.Fatalf("got %d source NAT rules, want 2: %+v", len(nat), nat)
	}
	snat, masq := nat[0], nat[1] // legacy is read first
	if masq.Backend != probe.BackendNFT || masq.Target != "MASQUERADE" || masq.Source != c.ClientNet || masq.OutInterface != "r-s" ||
		masq.Comment != "cilium masquerade non-cluster" || masq.Packets != 3 {
		t.Errorf("MASQUERADE rule (3 connections, NAT sees each one's first packet): %+v", masq)
	}
	if snat.Backend != probe.BackendLegacy || snat.Target != "SNAT" || snat.Packets != 0 { // negative control: no traffic from 10.88/16
		t.Errorf("SNAT rule: %+v", snat)
	}
	ct, err := c.Client.Open(t).IPTables(context.Background())
	if err != nil || len(ct.SourceNAT()) != 0 {
		t.Errorf("client NAT rules: %+v, %v; want none", ct.SourceNAT(), err)
	}
}

func TestCountingRuleOnForward(t *testing.T) {
	for _, backend := range []probe.Backend{"", probe.BackendLegacy} {
		name := string(backend)
		if name == "" {
			name = "auto"
		}
		t.Run(name, func(t *testing.T) {
			c := probetest.NewChain(t)
			router := c.Router.Open(t)
			ctx := context.Background()
			hit, err := router.InstallCountingRule(ctx, probe.CountingRuleSpec{Chain: "FORWARD", Source: c.ClientNet, Backend: backend})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { must(t, hit.Remove(ctx)) })
			miss, err := router.InstallCountingRule(ctx, probe.CountingRuleSpec{Chain: "FORWARD", Source: netip.MustParsePrefix("10.99.0.0/16"), Backend: backend})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { must(t, miss.Remove(ctx)) })
			if backend == "" && hit.Backend != probe.BackendNFT {
				t.Errorf("empty node: picked %s, want nft", hit.Backend)
			}

			probetest.ServeEcho(t, c.Server.Open(t))
			probetest.Burst(t, c.Client.Open(t), c.ServerIP.String()+":8080", 10)
			hits, err := hit.Packets(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if hits < 10*3 { // SYN, ACK, FIN at least per connection from the client side
				t.Errorf("FORWARD rule for %s counted %d packets for 10 connections", c.ClientNet, hits)
			}
			if misses, err := miss.Packets(ctx); err != nil || misses != 0 {
				t.Errorf("FORWARD rule for 10.99.0.0/16 counted %d (%v), want 0", misses, err)
			}
			must(t, hit.Remove(ctx))
			must(t, miss.Remove(ctx))
			tables, err := router.IPTables(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if left := tables.Chain("filter", "FORWARD"); len(left) != 0 {
				t.Errorf("rules left in FORWARD after Remove: %+v", left)
			}
		})
	}
}

func TestOpenByPIDAndErrors(t *testing.T) {
	ns := probetest.NewNetNS(t, "pid")
	probetest.Veth(t, ns, "v0", "", ns, "v1", "")
	byName := ns.Open(t)
	ctx := context.Background()
	sleeper := byName.Command(ctx, "sleep", "60")
	must(t, byName.StartCommand(sleeper))
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })

	byPID, err := probe.OpenPID(sleeper.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer byPID.Close()
	a, errA := byName.Devices(ctx)
	b, errB := byPID.Devices(ctx)
	if errA != nil || errB != nil || !reflect.DeepEqual(a, b) || len(a) != 3 {
		t.Errorf("devices by name %+v (%v) and by pid %+v (%v) differ", a, errA, b, errB)
	}

	if _, err := probe.OpenNetNS("tcil-no-such-namespace"); !errors.Is(err, probe.ErrNoSuchNode) {
		t.Errorf("OpenNetNS(missing) = %v, want ErrNoSuchNode", err)
	}
	if _, err := probe.OpenPID(1 << 30); !errors.Is(err, probe.ErrNoSuchNode) {
		t.Errorf("OpenPID(missing) = %v, want ErrNoSuchNode", err)
	}
	if _, err := probe.OpenPID(-1); err == nil {
		t.Error("OpenPID(-1) succeeded")
	}
	exec := probe.Via("exec only", probe.NetNSExec(ns.Name))
	if err := exec.Do(func() error { return nil }); !errors.Is(err, probe.ErrNotEnterable) {
		t.Errorf("Do on an exec-only node = %v, want ErrNotEnterable", err)
	}
}

// TestDoLeavesNoThreadInANamespace runs many concurrent Do calls and then
// checks that every thread of this process is back in its own namespace.
func TestDoLeavesNoThreadInANamespace(t *testing.T) {
	ns := probetest.NewNetNS(t, "threads")
	node := ns.Open(t)
	errs := make(chan error, 64)
	for range 64 {
		go func() { errs <- node.Do(func() error { time.Sleep(time.Millisecond); return nil }) }()
	}
	for range 64 {
		must(t, <-errs)
	}
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		got, err := os.Readlink("/proc/self/task/" + task.Name() + "/ns/net")
		if err == nil && got != self {
			t.Errorf("thread %s is in %s, not %s", task.Name(), got, self)
		}
	}
}

func TestInspectHostIsFast(t *testing.T) {
	probetest.RequireRoot(t)
	host, err := probe.Host()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	r, err := host.Inspect(context.Background(), probe.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) > 0 {
		t.Errorf("probe errors on the host: %v", r.Errors)
	}
	if r.Took > time.Second {
		t.Errorf("inspect of the host took %s, want < 1s", r.Took)
	}
	if r.Conntrack == nil || r.Devices == nil || r.CongestionControl == nil {
		t.Errorf("missing evidence: %+v", r)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
