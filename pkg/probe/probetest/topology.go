package probetest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Do runs fn on a thread inside the namespace (for calls that resolve an
// interface index or create a socket in the caller's namespace, such as BPF
// attachments and net.Listen). The thread is restored afterwards, or
// discarded if that fails.
func (ns *NetNS) Do(t testing.TB, fn func() error) {
	t.Helper()
	if err := do(ns.Handle, fn); err != nil {
		t.Fatalf("in %s: %v", ns.Name, err)
	}
}

func do(target netns.NsHandle, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("current namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter namespace: %w", err)
			return
		}
		fnErr := fn()
		if err := netns.Set(orig); err != nil {
			done <- errors.Join(fnErr, fmt.Errorf("restore namespace: %w", err))
			return // the thread stays locked and dies with this goroutine
		}
		runtime.UnlockOSThread()
		done <- fnErr
	}()
	return <-done
}

// Veth joins a and b with a veth pair, aName in a with address aAddr and
// bName in b with bAddr (CIDR notation, "" for none), both up. The pair
// lives only in the two namespaces and goes away with them.
func Veth(t testing.TB, a *NetNS, aName, aAddr string, b *NetNS, bName, bAddr string) {
	t.Helper()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: aName},
		PeerName:      bName,
		PeerNamespace: netlink.NsFd(int(b.Handle)),
	}
	if err := a.NL.LinkAdd(veth); err != nil {
		t.Fatalf("create veth %s (%s) <-> %s (%s): %v", aName, a.Name, bName, b.Name, err)
	}
	a.LinkUp(t, aName, aAddr)
	b.LinkUp(t, bName, bAddr)
}

// LinkUp gives a device an address (CIDR notation, "" for none) and sets it up.
func (ns *NetNS) LinkUp(t testing.TB, dev, addr string) {
	t.Helper()
	link := ns.Link(t, dev)
	if addr != "" {
		a, err := netlink.ParseAddr(addr)
		if err != nil {
			t.Fatalf("bad address %q: %v", addr, err)
		}
		if err := ns.NL.AddrAdd(link, a); err != nil {
			t.Fatalf("add %s to %s in %s: %v", addr, dev, ns.Name, err)
		}
	}
	if err := ns.NL.LinkSetUp(link); err != nil {
		t.Fatalf("set %s up in %s: %v", dev, ns.Name, err)
	}
}

// Link finds a device of the namespace by name.
func (ns *NetNS) Link(t testing.TB, dev string) netlink.Link {
	t.Helper()
	link, err := ns.NL.LinkByName(dev)
	if err != nil {
		t.Fatalf("find %s in %s: %v", dev, ns.Name, err)
	}
	return link
}

// Route adds a route to dst ("default" or a CIDR) via gateway gw.
func (ns *NetNS) Route(t testing.TB, dst, gw string) {
	t.Helper()
	r := &netlink.Route{Gw: net.ParseIP(gw)}
	if dst != "default" {
		_, ipnet, err := net.ParseCIDR(dst)
		if err != nil {
			t.Fatalf("bad route destination %q: %v", dst, err)
		}
		r.Dst = ipnet
	}
	if err := ns.NL.RouteAdd(r); err != nil {
		t.Fatalf("add route %s via %s in %s: %v", dst, gw, ns.Name, err)
	}
}

// Chain is the three-namespace topology the behaviour tests use:
//
//	client (10.201.1.2) c0 <-> r-c (10.201.1.1) router (10.201.2.1) r-s <-> s0 (10.201.2.2) server
//
// The router forwards; client and server route everything through it. The
// addresses are the same in every Chain: each one lives in its own
// namespaces, so chains of parallel tests do not meet.
type Chain struct {
	Client, Router, Server *NetNS

	ClientIP, RouterClientSide, RouterServerSide, ServerIP netip.Addr
	ClientNet, ServerNet                                   netip.Prefix
}

// NewChain builds a Chain for one test; it is removed in t.Cleanup.
func NewChain(t testing.TB) *Chain {
	t.Helper()
	c := &Chain{
		Client: NewNetNS(t, "client"),
		Router: NewNetNS(t, "router"),
		Server: NewNetNS(t, "server"),

		ClientIP:         netip.MustParseAddr("10.201.1.2"),
		RouterClientSide: netip.MustParseAddr("10.201.1.1"),
		RouterServerSide: netip.MustParseAddr("10.201.2.1"),
		ServerIP:         netip.MustParseAddr("10.201.2.2"),
		ClientNet:        netip.MustParsePrefix("10.201.1.0/24"),
		ServerNet:        netip.MustParsePrefix("10.201.2.0/24"),
	}
	Veth(t, c.Client, "c0", "10.201.1.2/24", c.Router, "r-c", "10.201.1.1/24")
	Veth(t, c.Router, "r-s", "10.201.2.1/24", c.Server, "s0", "10.201.2.2/24")
	c.Client.Route(t, "default", "10.201.1.1")
	c.Server.Route(t, "default", "10.201.2.1")
	c.Router.Sysctl(t, "net.ipv4.ip_forward", "1")
	return c
}

// EnableConntrack makes the router's kernel track connections: since Linux
// 4.x conntrack hooks are registered in a namespace only once a rule needs
// them, so a fresh namespace tracks nothing. The rule (filter FORWARD,
// conntrack state match, no target) changes no verdict.
func (c *Chain) EnableConntrack(t testing.TB, backend string) {
	t.Helper()
	c.Router.Iptables(t, backend, "-t", "filter", "-A", "FORWARD", "-m", "conntrack", "--ctstate", "NEW,ESTABLISHED")
}
