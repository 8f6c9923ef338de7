package probe

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// rtLink is one device from an RTM_GETLINK dump, with the attributes the
// netlink library does not decode (the root qdisc, the kind as the kernel
// names it, every XDP mode's program id).
type rtLink struct {
	Index          int
	Name           string
	Flags          uint32
	MTU            int
	Qdisc          string
	Kind           string
	GSOMaxSize     uint32
	GROMaxSize     uint32
	GSOIPv4MaxSize uint32
	GROIPv4MaxSize uint32
	// XDP program ids per attach mode, 0 when none.
	XDPDriver, XDPGeneric, XDPOffload uint32
}

// rtLinks dumps the node's devices over rtnetlink from inside the namespace.
func (n *Node) rtLinks() ([]rtLink, error) {
	var msgs [][]byte
	err := n.Do(func() error {
		req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
		var err error
		msgs, err = req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dump devices in %s: %w", n.name, err)
	}
	links := make([]rtLink, 0, len(msgs))
	for _, m := range msgs {
		l, err := parseRTLink(m)
		if err != nil {
			return nil, fmt.Errorf("dump devices in %s: %w", n.name, err)
		}
		links = append(links, l)
	}
	return links, nil
}

func parseRTLink(m []byte) (rtLink, error) {
	msg := nl.DeserializeIfInfomsg(m)
	attrs, err := nl.ParseRouteAttr(m[msg.Len():])
	if err != nil {
		return rtLink{}, fmt.Errorf("parse link attributes: %w", err)
	}
	l := rtLink{Index: int(msg.Index), Flags: msg.Flags}
	u32 := func(b []byte) uint32 {
		if len(b) < 4 {
			return 0
		}
		return binary.NativeEndian.Uint32(b)
	}
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.IFLA_IFNAME:
			l.Name = cString(a.Value)
		case unix.IFLA_MTU:
			l.MTU = int(u32(a.Value))
		case unix.IFLA_QDISC:
			l.Qdisc = cString(a.Value)
		case unix.IFLA_GSO_MAX_SIZE:
			l.GSOMaxSize = u32(a.Value)
		case unix.IFLA_GRO_MAX_SIZE:
			l.GROMaxSize = u32(a.Value)
		case unix.IFLA_GSO_IPV4_MAX_SIZE:
			l.GSOIPv4MaxSize = u32(a.Value)
		case unix.IFLA_GRO_IPV4_MAX_SIZE:
			l.GROIPv4MaxSize = u32(a.Value)
		case unix.IFLA_LINKINFO:
			info, err := nl.ParseRouteAttr(a.Value)
			if err != nil {
				return l, fmt.Errorf("parse link info of %s: %w", l.Name, err)
			}
			for _, i := range info {
				if i.Attr.Type == unix.IFLA_INFO_KIND {
					l.Kind = cString(i.Value)
				}
			}
		case unix.IFLA_XDP:
			xdp, err := nl.ParseRouteAttr(a.Value)
			if err != nil {
				return l, fmt.Errorf("parse XDP attributes of %s: %w", l.Name, err)
			}
			for _, x := range xdp {
				switch x.Attr.Type {
				case unix.IFLA_XDP_DRV_PROG_ID:
					l.XDPDriver = u32(x.Value)
				case unix.IFLA_XDP_SKB_PROG_ID:
					l.XDPGeneric = u32(x.Value)
				case unix.IFLA_XDP_HW_PROG_ID:
					l.XDPOffload = u32(x.Value)
				}
			}
		}
	}
	return l, nil
}

// cString reads a NUL-terminated netlink string attribute.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func sortedByIndex(links []rtLink) []rtLink {
	out := slices.Clone(links)
	slices.SortFunc(out, func(a, b rtLink) int { return a.Index - b.Index })
	return out
}
