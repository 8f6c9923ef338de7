package probe

import (
	"context"
	"fmt"

	"github.com/cilium/ebpf"
)

// XDPMode is how an XDP program is attached to a device.
type XDPMode string

const (
	// XDPNative runs in the driver (XDP_FLAGS_DRV_MODE): the fast path.
	XDPNative XDPMode = "native"
	// XDPGeneric runs after the skb is built (XDP_FLAGS_SKB_MODE): a
	// fallback that brings no speed-up.
	XDPGeneric XDPMode = "generic"
	// XDPOffload runs on the NIC (XDP_FLAGS_HW_MODE).
	XDPOffload XDPMode = "offload"
	// XDPNone: no program attached.
	XDPNone XDPMode = "none"
)

// XDPAttachment is one device's XDP state: a device without a program has
// one entry with Attached false and mode "none"; a device with programs in
// several modes has one entry per mode.
type XDPAttachment struct {
	Device      string  `json:"device"`
	Attached    bool    `json:"attached"`
	Mode        XDPMode `json:"mode"`
	ProgramID   uint32  `json:"programId"`
	ProgramName string  `json:"programName"`
}

// XDP reports every device's XDP attachment, in device index order.
func (n *Node) XDP(ctx context.Context) ([]XDPAttachment, error) {
	if n.Enterable() {
		return n.xdpNetlink()
	}
	return n.xdpExec(ctx)
}

// XDPOn reports the XDP attachments of one device.
func (n *Node) XDPOn(ctx context.Context, device string) ([]XDPAttachment, error) {
	all, err := n.XDP(ctx)
	if err != nil {
		return nil, err
	}
	var out []XDPAttachment
	for _, a := range all {
		if a.Device == device {
			out = append(out, a)
		}
	}
	if out == nil {
		return nil, fmt.Errorf("no device %q in %s", device, n.name)
	}
	return out, nil
}

func (n *Node) xdpNetlink() ([]XDPAttachment, error) {
	links, err := n.rtLinks()
	if err != nil {
		return nil, err
	}
	var out []XDPAttachment
	for _, l := range sortedByIndex(links) {
		attached := false
		for _, m := range []struct {
			mode XDPMode
			id   uint32
		}{{XDPNative, l.XDPDriver}, {XDPGeneric, l.XDPGeneric}, {XDPOffload, l.XDPOffload}} {
			if m.id == 0 {
				continue
			}
			name, err := programName(m.id)
			if err != nil {
				return nil, fmt.Errorf("XDP program %d on %s in %s: %w", m.id, l.Name, n.name, err)
			}
			out = append(out, XDPAttachment{Device: l.Name, Attached: true, Mode: m.mode, ProgramID: m.id, ProgramName: name})
			attached = true
		}
		if !attached {
			out = append(out, XDPAttachment{Device: l.Name, Mode: XDPNone})
		}
	}
	return out, nil
}

// programName is the name the kernel holds for BPF program id (at most 15
// characters). BPF program ids are global, so any namespace can ask.
func programName(id uint32) (string, error) {
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		return "", fmt.Errorf("open program by id: %w", err)
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		return "", fmt.Errorf("program info: %w", err)
	}
	return info.Name, nil
}

// xdpModes maps the XDP_ATTACHED_* values `ip -j -d link` prints.
var xdpModes = map[int]XDPMode{1: XDPNative, 2: XDPGeneric, 3: XDPOffload}

func (n *Node) xdpExec(ctx context.Context) ([]XDPAttachment, error) {
	links, err := n.ipLinks(ctx)
	if err != nil {
		return nil, err
	}
	var out []XDPAttachment
	for _, l := range links {
		var progs []ipXDPAttch
		if l.XDP != nil {
			progs = l.XDP.Attached
			if len(progs) == 0 && l.XDP.Prog != nil { // iproute2 without the "attached" list
				progs = []ipXDPAttch{{Mode: l.XDP.Mode, Prog: l.XDP.Prog}}
			}
		}
		attached := false
		for _, mode := range []XDPMode{XDPNative, XDPGeneric, XDPOffload} {
			for _, p := range progs {
				if xdpModes[p.Mode] != mode || p.Prog == nil {
					continue
				}
				out = append(out, XDPAttachment{Device: l.IfName, Attached: true, Mode: mode, ProgramID: p.Prog.ID, ProgramName: p.Prog.Name})
				attached = true
			}
		}
		if !attached {
			out = append(out, XDPAttachment{Device: l.IfName, Mode: XDPNone})
		}
	}
	return out, nil
}
