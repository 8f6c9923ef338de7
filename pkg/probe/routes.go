package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Route is one route of the node's main routing table (what `ip route show`
// and `ip -6 route show` list).
type Route struct {
	Family      string       `json:"family"` // "ipv4" or "ipv6"
	Destination netip.Prefix `json:"destination"`
	Gateway     netip.Addr   `json:"gateway,omitzero"`
	Device      string       `json:"device,omitempty"`
	// Nexthops holds the paths of a multipath route (then Gateway and
	// Device are empty).
	Nexthops []Nexthop `json:"nexthops,omitempty"`
	// Protocol, Scope and Type use iproute2's names ("kernel", "boot",
	// "static"; "global", "link", "host"; "unicast", "blackhole", ...);
	// unnamed values are decimal.
	Protocol        string     `json:"protocol"`
	Scope           string     `json:"scope"`
	Type            string     `json:"type"`
	PreferredSource netip.Addr `json:"preferredSource,omitzero"`
	Metric          int        `json:"metric,omitempty"`
}

// Nexthop is one path of a multipath route.
type Nexthop struct {
	Gateway netip.Addr `json:"gateway,omitzero"`
	Device  string     `json:"device,omitempty"`
}

// Routes lists the main table's IPv4 and IPv6 routes.
func (n *Node) Routes(ctx context.Context) ([]Route, error) {
	if n.Enterable() {
		return n.routesNetlink()
	}
	return n.routesExec(ctx)
}

// RoutesTo lists the routes whose destination contains or lies inside
// prefix: the routes that carry traffic to a remote node's pod CIDR.
func (n *Node) RoutesTo(ctx context.Context, prefix netip.Prefix) ([]Route, error) {
	all, err := n.Routes(ctx)
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, r := range all {
		if r.Destination.Bits() > 0 && r.Destination.Overlaps(prefix) {
			out = append(out, r)
		}
	}
	return out, nil
}

var (
	routeProtocols = map[int]string{0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated", 9: "ra",
		10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp", 15: "ntk", 16: "dhcp", 18: "keepalived",
		42: "babel", 99: "openr", 186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp"}
	routeScopes = map[int]string{0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
	routeTypes  = map[int]string{0: "none", 1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast",
		6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat", 11: "xresolve"}
)

func named(names map[int]string, v int) string {
	if s, ok := names[v]; ok {
		return s
	}
	return strconv.Itoa(v)
}

func (n *Node) routesNetlink() ([]Route, error) {
	links, err := n.rtLinks()
	if err != nil {
		return nil, err
	}
	devName := map[int]string{}
	for _, l := range links {
		devName[l.Index] = l.Name
	}
	var out []Route
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		routes, err := n.nl.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, fmt.Errorf("list routes in %s: %w", n.name, err)
		}
		for _, r := range routes {
			out = append(out, Route{
				Family:          familyName(fam),
				Destination:     destination(fam, r.Dst),
				Gateway:         addr(r.Gw),
				Device:          devName[r.LinkIndex],
				Nexthops:        nexthops(r.MultiPath, devName),
				Protocol:        named(routeProtocols, int(r.Protocol)),
				Scope:           named(routeScopes, int(r.Scope)),
				Type:            named(routeTypes, r.Type),
				PreferredSource: addr(r.Src),
				Metric:          r.Priority,
			})
		}
	}
	return out, nil
}

func familyName(fam int) string {
	if fam == unix.AF_INET6 {
		return "ipv6"
	}
	return "ipv4"
}

func destination(fam int, dst *net.IPNet) netip.Prefix {
	if dst == nil {
		if fam == unix.AF_INET6 {
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	a := addr(dst.IP)
	ones, _ := dst.Mask.Size()
	return netip.PrefixFrom(a, ones)
}

// addr converts a net.IP, keeping IPv4 addresses 4 bytes long.
func addr(ip net.IP) netip.Addr {
	if ip == nil {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func nexthops(paths []*netlink.NexthopInfo, devName map[int]string) []Nexthop {
	var out []Nexthop
	for _, p := range paths {
		out = append(out, Nexthop{Gateway: addr(p.Gw), Device: devName[p.LinkIndex]})
	}
	return out
}

// ipRoute is one route as `ip -j route show` prints it; iproute2 leaves out
// protocol "boot", scope "global" and type "unicast".
type ipRoute struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Protocol string `json:"protocol"`
	Scope    string `json:"scope"`
	Type     string `json:"type"`
	PrefSrc  string `json:"prefsrc"`
	Metric   int    `json:"metric"`
	Nexthops []struct {
		Gateway string `json:"gateway"`
		Dev     string `json:"dev"`
	} `json:"nexthops"`
}

func (n *Node) routesExec(ctx context.Context) ([]Route, error) {
	var out []Route
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		argv := []string{"ip", "-j", "-4", "route", "show", "table", "main"}
		if fam == unix.AF_INET6 {
			argv[2] = "-6"
		}
		raw, err := n.run.Run(ctx, argv)
		if err != nil {
			return nil, fmt.Errorf("list routes in %s: %w", n.name, err)
		}
		var routes []ipRoute
		if err := json.Unmarshal(raw, &routes); err != nil {
			return nil, fmt.Errorf("list routes in %s: decode `ip -j route`: %w", n.name, err)
		}
		for _, r := range routes {
			dst, err := parseRouteDst(fam, r.Dst)
			if err != nil {
				return nil, fmt.Errorf("list routes in %s: %w", n.name, err)
			}
			route := Route{
				Family: familyName(fam), Destination: dst, Device: r.Dev,
				Protocol: orDefault(r.Protocol, "boot"), Scope: orDefault(r.Scope, "global"), Type: orDefault(r.Type, "unicast"),
				Metric: r.Metric,
			}
			route.Gateway, _ = netip.ParseAddr(r.Gateway)
			route.PreferredSource, _ = netip.ParseAddr(r.PrefSrc)
			for _, h := range r.Nexthops {
				gw, _ := netip.ParseAddr(h.Gateway)
				route.Nexthops = append(route.Nexthops, Nexthop{Gateway: gw, Device: h.Dev})
			}
			out = append(out, route)
		}
	}
	return out, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// parseRouteDst reads iproute2's destination: "default", "10.0.0.0/24", or a
// bare address for a host route.
func parseRouteDst(fam int, s string) (netip.Prefix, error) {
	if s == "default" {
		return destination(fam, nil), nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("route destination %q: %w", s, err)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
