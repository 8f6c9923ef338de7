package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Device is one network device of the node: what it is, its MTU, its BIG
// TCP sizes and its qdisc.
type Device struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
	// Kind is the link kind the kernel reports ("veth", "netkit", "vxlan",
	// "geneve", "bridge", ...), or "device" for a device with none
	// (a physical NIC, loopback).
	Kind string `json:"kind"`
	MTU  int    `json:"mtu"`
	// Up is the administrative state (IFF_UP).
	Up bool `json:"up"`
	// GSOMaxSize and GROMaxSize are the IPv6 (and legacy) BIG TCP sizes:
	// 65536 by default, larger when BIG TCP is on.
	GSOMaxSize uint32 `json:"gsoMaxSize"`
	GROMaxSize uint32 `json:"groMaxSize"`
	// GSOIPv4MaxSize and GROIPv4MaxSize are the IPv4 BIG TCP sizes (Linux
	// 6.3+). Nil when the node's tools do not report them (iproute2 < 6.3
	// on the exec path).
	GSOIPv4MaxSize *uint32 `json:"gsoIPv4MaxSize,omitempty"`
	GROIPv4MaxSize *uint32 `json:"groIPv4MaxSize,omitempty"`
	// Qdisc is the kind of the root qdisc ("noqueue", "mq", "fq", ...).
	Qdisc string `json:"qdisc"`
	// FQ is true when an fq qdisc sits on the device, at the root or under
	// mq (the Bandwidth Manager's layout).
	FQ bool `json:"fq"`
}

// ErrNoSuchDevice says a device named by the caller is not in the node.
var ErrNoSuchDevice = errors.New("no device")

// BigTCPDefault is the GSO/GRO size of a device without BIG TCP.
const BigTCPDefault = 65536

// BigTCPIPv6 reports whether the device's IPv6 GSO and GRO sizes are above
// the 64 KiB default.
func (d Device) BigTCPIPv6() bool {
	return d.GSOMaxSize > BigTCPDefault && d.GROMaxSize > BigTCPDefault
}

// BigTCPIPv4 reports whether the device's IPv4 GSO and GRO sizes are above
// the 64 KiB default; false when they are not reported.
func (d Device) BigTCPIPv4() bool {
	return d.GSOIPv4MaxSize != nil && d.GROIPv4MaxSize != nil &&
		*d.GSOIPv4MaxSize > BigTCPDefault && *d.GROIPv4MaxSize > BigTCPDefault
}

// Devices lists the node's network devices, sorted by index.
func (n *Node) Devices(ctx context.Context) ([]Device, error) {
	var devs []Device
	var err error
	if n.Enterable() {
		devs, err = n.devicesNetlink()
	} else {
		devs, err = n.devicesExec(ctx)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(devs, func(a, b Device) int { return a.Index - b.Index })
	return devs, nil
}

// Device returns the named device, or an error naming the ones there are.
func (n *Node) Device(ctx context.Context, name string) (Device, error) {
	devs, err := n.Devices(ctx)
	if err != nil {
		return Device{}, err
	}
	return findDevice(devs, name, n.name)
}

func findDevice(devs []Device, name, node string) (Device, error) {
	names := make([]string, 0, len(devs))
	for _, d := range devs {
		if d.Name == name {
			return d, nil
		}
		names = append(names, d.Name)
	}
	return Device{}, fmt.Errorf("%w %q in %s (it has: %s)", ErrNoSuchDevice, name, node, strings.Join(names, ", "))
}

// DevicesWithPrefix filters devices by name prefix ("lxc", "cilium_").
func DevicesWithPrefix(devs []Device, prefix string) []Device {
	var out []Device
	for _, d := range devs {
		if strings.HasPrefix(d.Name, prefix) {
			out = append(out, d)
		}
	}
	return out
}

func (n *Node) devicesNetlink() ([]Device, error) {
	links, err := n.rtLinks()
	if err != nil {
		return nil, err
	}
	qdiscs, err := n.nl.QdiscList(nil)
	if err != nil {
		return nil, fmt.Errorf("list qdiscs in %s: %w", n.name, err)
	}
	fq := map[int]bool{}
	for _, q := range qdiscs {
		if q.Type() == "fq" {
			fq[q.Attrs().LinkIndex] = true
		}
	}
	devs := make([]Device, 0, len(links))
	for _, l := range links {
		kind := l.Kind
		if kind == "" {
			kind = "device"
		}
		gsoV4, groV4 := l.GSOIPv4MaxSize, l.GROIPv4MaxSize
		devs = append(devs, Device{
			Name: l.Name, Index: l.Index, Kind: kind, MTU: l.MTU,
			Up:         l.Flags&unix.IFF_UP != 0,
			GSOMaxSize: l.GSOMaxSize, GROMaxSize: l.GROMaxSize,
			GSOIPv4MaxSize: &gsoV4, GROIPv4MaxSize: &groV4,
			Qdisc: l.Qdisc, FQ: fq[l.Index],
		})
	}
	return devs, nil
}

// tcQdisc is one qdisc as `tc -j qdisc show` prints it.
type tcQdisc struct {
	Kind string `json:"kind"`
	Dev  string `json:"dev"`
	Root bool   `json:"root"`
}

func (n *Node) devicesExec(ctx context.Context) ([]Device, error) {
	links, err := n.ipLinks(ctx)
	if err != nil {
		return nil, err
	}
	out, err := n.run.Run(ctx, []string{"tc", "-j", "qdisc", "show"})
	if err != nil {
		return nil, fmt.Errorf("list qdiscs in %s: %w", n.name, err)
	}
	var qdiscs []tcQdisc
	if err := json.Unmarshal(out, &qdiscs); err != nil {
		return nil, fmt.Errorf("list qdiscs in %s: decode `tc -j qdisc show`: %w", n.name, err)
	}
	fq := map[string]bool{}
	for _, q := range qdiscs {
		if q.Kind == "fq" {
			fq[q.Dev] = true
		}
	}
	devs := make([]Device, 0, len(links))
	for _, l := range links {
		kind := "device"
		if l.LinkInfo != nil && l.LinkInfo.InfoKind != "" {
			kind = l.LinkInfo.InfoKind
		}
		devs = append(devs, Device{
			Name: l.IfName, Index: l.IfIndex, Kind: kind, MTU: l.MTU,
			Up:         slices.Contains(l.Flags, "UP"),
			GSOMaxSize: l.GSOMaxSize, GROMaxSize: l.GROMaxSize,
			GSOIPv4MaxSize: l.GSOIPv4MaxSize, GROIPv4MaxSize: l.GROIPv4MaxSize,
			Qdisc: l.Qdisc, FQ: fq[l.IfName],
		})
	}
	return devs, nil
}
