package probetest

import (
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// Return codes of the pass-through programs.
const (
	xdpPass  = 2 // XDP_PASS
	tcOK     = 0 // TC_ACT_OK, which tcx also reads as "pass"
	licenseG = "GPL"
)

// XDPPass loads a two-instruction XDP program that passes every packet,
// named name (at most 15 characters, the kernel's limit). Closed in t.Cleanup.
func XDPPass(t testing.TB, name string) *ebpf.Program {
	t.Helper()
	return load(t, &ebpf.ProgramSpec{
		Name: name, Type: ebpf.XDP, License: licenseG,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, xdpPass), asm.Return()},
	})
}

// TCPass loads a sched_cls program that lets every packet through, for
// classic tc (cls_bpf, direct action) and tcx alike. Closed in t.Cleanup.
func TCPass(t testing.TB, name string) *ebpf.Program {
	t.Helper()
	return load(t, &ebpf.ProgramSpec{
		Name: name, Type: ebpf.SchedCLS, License: licenseG,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, tcOK), asm.Return()},
	})
}

func load(t testing.TB, spec *ebpf.ProgramSpec) *ebpf.Program {
	t.Helper()
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		t.Fatalf("load BPF program %s: %v", spec.Name, err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

// AttachXDP attaches prog to dev in ns with the given mode flags
// (link.XDPDriverMode, link.XDPGenericMode) and detaches it in t.Cleanup.
func (ns *NetNS) AttachXDP(t testing.TB, dev string, prog *ebpf.Program, mode link.XDPAttachFlags) {
	t.Helper()
	ifindex := ns.Link(t, dev).Attrs().Index
	var l link.Link
	ns.Do(t, func() (err error) {
		l, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: mode})
		return err
	})
	t.Cleanup(func() { l.Close() })
}

// AttachTCX attaches prog to dev's tcx hook (ebpf.AttachTCXIngress or
// ebpf.AttachTCXEgress) and detaches it in t.Cleanup.
func (ns *NetNS) AttachTCX(t testing.TB, dev string, prog *ebpf.Program, attach ebpf.AttachType) {
	t.Helper()
	ifindex := ns.Link(t, dev).Attrs().Index
	var l link.Link
	ns.Do(t, func() (err error) {
		l, err = link.AttachTCX(link.TCXOptions{Program: prog, Interface: ifindex, Attach: attach})
		return err
	})
	t.Cleanup(func() { l.Close() })
}

// AttachClassicTC adds a clsact qdisc to dev (if absent) and a cls_bpf
// filter in direct-action mode running prog on ingress (egress=false) or
// egress, as tc(8) would; both are removed in t.Cleanup.
func (ns *NetNS) AttachClassicTC(t testing.TB, dev string, prog *ebpf.Program, egress bool) {
	t.Helper()
	l := ns.Link(t, dev)
	clsact := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
		QdiscType:  "clsact",
	}
	if err := ns.NL.QdiscAdd(clsact); err != nil && err != unix.EEXIST {
		t.Fatalf("add clsact to %s in %s: %v", dev, ns.Name, err)
	}
	t.Cleanup(func() { _ = ns.NL.QdiscDel(clsact) })
	parent := uint32(netlink.HANDLE_MIN_INGRESS)
	if egress {
		parent = netlink.HANDLE_MIN_EGRESS
	}
	filter := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: l.Attrs().Index, Parent: parent, Handle: netlink.MakeHandle(0, 1),
			Protocol: unix.ETH_P_ALL, Priority: 1,
		},
		Fd: prog.FD(), Name: prog.String(), DirectAction: true,
	}
	if err := ns.NL.FilterAdd(filter); err != nil {
		t.Fatalf("add bpf filter to %s in %s: %v", dev, ns.Name, err)
	}
}
