package kind

import (
	"context"
	"errors"
	"fmt"
	"os/exec"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Native XDP on a node's eth0 (a veth) needs the host-side peer prepared, as
// Cilium's own CI does in contrib/scripts/kind.sh: an XDP program on the peer
// (so that frames the node sends with XDP_TX are received) and rx/tx checksum
// offload off on it (veth cannot offload: forwarded packets would carry bad
// checksums).

// xdpPrepared is one host-side veth this provider changed.
type xdpPrepared struct {
	node, ifname string
	ifindex      int
}

// passProgram is `return XDP_PASS`. It declares multi-buffer support
// (BPF_F_XDP_HAS_FRAGS, Linux 5.18+) so that it attaches to a veth whose MTU
// exceeds a page (jumbo frames): without it the kernel answers ERANGE. Older
// kernels get the plain program.
func passProgram() (*ebpf.Program, error) {
	spec := &ebpf.ProgramSpec{
		Name:    "tc_xdp_pass",
		Type:    ebpf.XDP,
		License: "GPL",
		Flags:   unix.BPF_F_XDP_HAS_FRAGS,
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R0, 2), // XDP_PASS
			asm.Return(),
		},
	}
	prog, err := ebpf.NewProgram(spec)
	if err == nil {
		return prog, nil
	}
	spec.Flags = 0
	return ebpf.NewProgram(spec)
}

// hostPeer finds the host-side veth peer of eth0 in the container's netns.
func (c *Cluster) hostPeer(ctx context.Context, container string) (netlink.Link, error) {
	info, err := c.docker.ContainerInspect(ctx, container)
	if err != nil {
		return nil, fmt.Errorf("inspect node container %s: %w", container, err)
	}
	if info.State == nil || info.State.Pid == 0 {
		return nil, fmt.Errorf("node container %s is not running", container)
	}
	ns, err := netns.GetFromPid(info.State.Pid)
	if err != nil {
		return nil, fmt.Errorf("netns of node %s: %w", container, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in node %s: %w", container, err)
	}
	defer h.Close()
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return nil, fmt.Errorf("eth0 of node %s: %w", container, err)
	}
	peerIndex := eth0.Attrs().ParentIndex
	if peerIndex == 0 {
		return nil, fmt.Errorf("eth0 of node %s has no veth peer index", container)
	}
	peer, err := netlink.LinkByIndex(peerIndex)
	if err != nil {
		return nil, fmt.Errorf("host-side peer (ifindex %d) of node %s's eth0: %w", peerIndex, container, err)
	}
	return peer, nil
}

// prepareXDP attaches the pass program to each node's host-side peer and
// turns its checksum offload off. Each change is recorded before the next
// one so Delete undoes exactly what was done.
func (c *Cluster) prepareXDP(ctx context.Context) error {
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return err
	}
	prog, err := passProgram()
	if err != nil {
		return fmt.Errorf("load XDP pass program: %w", err)
	}
	defer prog.Close() // the netlink attachment holds its own reference
	for _, n := range nodes {
		peer, err := c.hostPeer(ctx, n.Container)
		if err != nil {
			return err
		}
		name := peer.Attrs().Name
		if err := netlink.LinkSetXdpFdWithFlags(peer, prog.FD(), nl.XDP_FLAGS_DRV_MODE); err != nil {
			return fmt.Errorf("attach XDP pass program to %s (host side of %s): %w", name, n.Name, err)
		}
		c.xdp = append(c.xdp, xdpPrepared{node: n.Name, ifname: name, ifindex: peer.Attrs().Index})
		if out, err := exec.CommandContext(ctx, "ethtool", "-K", name, "rx", "off", "tx", "off").CombinedOutput(); err != nil {
			return fmt.Errorf("ethtool -K %s rx off tx off: %v: %s (install ethtool: make deps)", name, err, out)
		}
		c.p.printf("XDP: %s (host side of %s) has a pass-through XDP program, rx/tx checksum offload off", name, n.Name)
	}
	return nil
}

// undoXDP detaches the programs and turns the offloads back on. A veth that
// is already gone (its node was removed) needs nothing.
func (c *Cluster) undoXDP() error {
	var errs []error
	for _, x := range c.xdp {
		link, err := netlink.LinkByIndex(x.ifindex)
		if err != nil || link.Attrs().Name != x.ifname {
			continue
		}
		if err := netlink.LinkSetXdpFdWithFlags(link, -1, nl.XDP_FLAGS_DRV_MODE); err != nil {
			errs = append(errs, fmt.Errorf("detach XDP from %s: %w", x.ifname, err))
		}
		if out, err := exec.Command("ethtool", "-K", x.ifname, "rx", "on", "tx", "on").CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ethtool -K %s rx on tx on: %v: %s", x.ifname, err, out))
		}
	}
	c.xdp = nil
	return errors.Join(errs...)
}

// XDPPrepared lists the host-side veths prepared for XDP (for evidence).
func (c *Cluster) XDPPrepared() []string {
	var out []string
	for _, x := range c.xdp {
		out = append(out, x.node+":"+x.ifname)
	}
	return out
}
