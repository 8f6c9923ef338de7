package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// tunnelDevices carry pod traffic in tunnel mode (cilium_host is where
// Cilium routes remote pod CIDRs to when its BPF program encapsulates).
var tunnelDevices = map[string]bool{"cilium_vxlan": true, "cilium_geneve": true, "cilium_host": true}

// PeerRoute is what one node routes towards another node's pod CIDR.
type PeerRoute struct {
	Node        string        `json:"node"`
	Peer        string        `json:"peer"`
	PeerIP      netip.Addr    `json:"peerIP"`
	PeerPodCIDR netip.Prefix  `json:"peerPodCIDR"`
	Routes      []probe.Route `json:"routes"`
	Err         string        `json:"error,omitempty"`
}

// bestRoute is the longest-prefix route whose destination holds cidr.
func bestRoute(routes []probe.Route, cidr netip.Prefix) (probe.Route, bool) {
	var best probe.Route
	found := false
	for _, r := range routes {
		if r.Type != "" && r.Type != "unicast" {
			continue
		}
		d := r.Destination
		if !d.IsValid() || d.Bits() > cidr.Bits() || !d.Contains(cidr.Addr()) {
			continue
		}
		if !found || d.Bits() > best.Destination.Bits() {
			best, found = r, true
		}
	}
	return best, found
}

// DecideNativeRoutes: PASS when every node routes every other node's pod
// CIDR via that node's IP, on a device that is not a tunnel (and nothing
// more specific inside the CIDR goes through a tunnel). FAIL names the
// route that goes elsewhere (tunnel mode: via cilium_host/cilium_vxlan).
func DecideNativeRoutes(peers []PeerRoute) Decision {
	if len(peers) == 0 {
		return fail("no pair of nodes with pod CIDRs to check")
	}
	var bad, good, unread []string
	for _, p := range peers {
		if p.Err != "" {
			unread = append(unread, fmt.Sprintf("%s -> %s: %s", p.Node, p.Peer, firstLine(p.Err)))
			continue
		}
		for _, r := range p.Routes {
			if r.Destination.Bits() > p.PeerPodCIDR.Bits() && p.PeerPodCIDR.Contains(r.Destination.Addr()) && tunnelDevices[r.Device] {
				bad = append(bad, fmt.Sprintf("%s: %s goes through %s", p.Node, r.Destination, r.Device))
			}
		}
		r, ok := bestRoute(p.Routes, p.PeerPodCIDR)
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s has no route to %s's pod CIDR %s", p.Node, p.Peer, p.PeerPodCIDR))
		case tunnelDevices[r.Device]:
			bad = append(bad, fmt.Sprintf("%s routes %s's pod CIDR %s via %s dev %s (tunnel)", p.Node, p.Peer, p.PeerPodCIDR, addrOrNone(r.Gateway), r.Device))
		case r.Gateway != p.PeerIP:
			bad = append(bad, fmt.Sprintf("%s routes %s's pod CIDR %s via %s (%s dev %s), not via %s's IP %s", p.Node, p.Peer, p.PeerPodCIDR, addrOrNone(r.Gateway), r.Destination, r.Device, p.Peer, p.PeerIP))
		default:
			good = append(good, fmt.Sprintf("%s: %s via %s dev %s", p.Node, p.PeerPodCIDR, r.Gateway, r.Device))
		}
	}
	if len(unread) > 0 {
		return unmeasured("routes unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("%s", strings.Join(bad, "; "))
	}
	return pass("every remote pod CIDR is routed via its node's IP (%s)", strings.Join(good, "; "))
}

func addrOrNone(a netip.Addr) string {
	if !a.IsValid() {
		return "no gateway"
	}
	return a.String()
}

func nativeRoutes(ctx context.Context, env *Env, _ tuning.Check) outcome {
	var peers []PeerRoute
	for _, n := range env.Nodes {
		p, err := probeOf(n)
		if err != nil {
			return skipOutcome(nil, "%v", err)
		}
		for _, other := range env.Nodes {
			if other.Name == n.Name {
				continue
			}
			ip, err := nodeAddr(other)
			if err != nil {
				return errorOutcome(nil, err)
			}
			if len(other.PodCIDRs) == 0 {
				peers = append(peers, PeerRoute{Node: n.Name, Peer: other.Name, PeerIP: ip, Err: "the peer has no IPv4 pod CIDR in Node or CiliumNode"})
				continue
			}
			for _, cidr := range other.PodCIDRs {
				pr := PeerRoute{Node: n.Name, Peer: other.Name, PeerIP: ip, PeerPodCIDR: cidr}
				routes, err := p.RoutesTo(ctx, cidr)
				if err != nil {
					pr.Err = err.Error()
				}
				pr.Routes = routes
				peers = append(peers, pr)
			}
		}
	}
	return outcome{Decision: DecideNativeRoutes(peers), Evidence: map[string]any{"routes": peers}}
}
