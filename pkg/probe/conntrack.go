package probe

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ConntrackTuple is one direction of a tracked connection. Ports are set for
// TCP and UDP only (what the netlink decoder reads), 0 otherwise.
type ConntrackTuple struct {
	Source          netip.Addr `json:"source"`
	Destination     netip.Addr `json:"destination"`
	SourcePort      uint16     `json:"sourcePort,omitempty"`
	DestinationPort uint16     `json:"destinationPort,omitempty"`
}

// ConntrackEntry is one entry of the node's nf_conntrack table.
type ConntrackEntry struct {
	Family string `json:"family"` // "ipv4" or "ipv6"
	// Protocol is conntrack(8)'s name: "tcp", "udp", "icmp", "icmpv6",
	// "sctp", "gre", "dccp", "udplite", or "unknown".
	Protocol       string         `json:"protocol"`
	ProtocolNumber uint8          `json:"protocolNumber"`
	Original       ConntrackTuple `json:"original"`
	Reply          ConntrackTuple `json:"reply"`
	// State is the TCP state ("ESTABLISHED", "TIME_WAIT", ...); empty for
	// other protocols.
	State string `json:"state,omitempty"`
}

// ConntrackFilter selects conntrack entries. The zero filter selects all.
type ConntrackFilter struct {
	// CIDRs: an entry matches when any of its four addresses (original and
	// reply, source and destination) lies in one of them. Empty: any.
	CIDRs []netip.Prefix
	// Protocol: conntrack(8)'s protocol name ("tcp", "udp", ...). Empty: any.
	Protocol string
}

// Match reports whether e passes the filter.
func (f ConntrackFilter) Match(e ConntrackEntry) bool {
	if f.Protocol != "" && f.Protocol != e.Protocol {
		return false
	}
	if len(f.CIDRs) == 0 {
		return true
	}
	for _, p := range f.CIDRs {
		for _, a := range []netip.Addr{e.Original.Source, e.Original.Destination, e.Reply.Source, e.Reply.Destination} {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

func (f ConntrackFilter) empty() bool { return len(f.CIDRs) == 0 && f.Protocol == "" }

// families lists the address families the filter can match.
func (f ConntrackFilter) families() []string {
	if len(f.CIDRs) == 0 {
		return []string{"ipv4", "ipv6"}
	}
	var fams []string
	for _, p := range f.CIDRs {
		fam := "ipv6"
		if p.Addr().Is4() {
			fam = "ipv4"
		}
		if !slices.Contains(fams, fam) {
			fams = append(fams, fam)
		}
	}
	return fams
}

// ConntrackEntries lists the entries of the node's conntrack table that
// match f (netlink dump, or `conntrack -L -o extended` on the exec path).
func (n *Node) ConntrackEntries(ctx context.Context, f ConntrackFilter) ([]ConntrackEntry, error) {
	var all []ConntrackEntry
	var err error
	if n.Enterable() {
		all, err = n.conntrackNetlink()
	} else {
		all, err = n.conntrackExec(ctx, f.families())
	}
	if err != nil {
		return nil, err
	}
	var out []ConntrackEntry
	for _, e := range all {
		if f.Match(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// ConntrackCount counts the entries that match f. With the zero filter it is
// the table's size as the kernel counts it (nf_conntrack_count, what
// `conntrack -C` prints).
func (n *Node) ConntrackCount(ctx context.Context, f ConntrackFilter) (int, error) {
	if !f.empty() {
		entries, err := n.ConntrackEntries(ctx, f)
		return len(entries), err
	}
	var text string
	if n.Enterable() {
		err := n.Do(func() error {
			b, err := os.ReadFile("/proc/sys/net/netfilter/nf_conntrack_count")
			text = string(b)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("count conntrack entries in %s: %w", n.name, err)
		}
	} else {
		out, err := n.run.Run(ctx, []string{"conntrack", "-C"})
		if err != nil {
			return 0, fmt.Errorf("count conntrack entries in %s: %w", n.name, err)
		}
		text = string(out)
	}
	count, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil {
		return 0, fmt.Errorf("count conntrack entries in %s: %q is not a number", n.name, text)
	}
	return count, nil
}

func (n *Node) conntrackNetlink() ([]ConntrackEntry, error) {
	flows, err := n.nl.ConntrackTableList(netlink.ConntrackTable, netlink.InetFamily(unix.AF_UNSPEC))
	if err != nil {
		return nil, fmt.Errorf("dump conntrack table in %s: %w", n.name, err)
	}
	out := make([]ConntrackEntry, 0, len(flows))
	for _, fl := range flows {
		e := ConntrackEntry{
			Family:         familyName(int(fl.FamilyType)),
			Protocol:       conntrackProtocolName(fl.Forward.Protocol),
			ProtocolNumber: fl.Forward.Protocol,
			Original:       tuple(fl.Forward),
			Reply:          tuple(fl.Reverse),
		}
		if tcp, ok := fl.ProtoInfo.(*netlink.ProtoInfoTCP); ok && e.Protocol == "tcp" {
			e.State = tcpConntrackState(tcp.State)
		}
		out = append(out, e)
	}
	return out, nil
}

func tuple(t netlink.IPTuple) ConntrackTuple {
	return ConntrackTuple{Source: addr(t.SrcIP), Destination: addr(t.DstIP), SourcePort: t.SrcPort, DestinationPort: t.DstPort}
}

// conntrackProtocolName names a protocol the way conntrack(8) does.
func conntrackProtocolName(p uint8) string {
	switch p {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	case unix.IPPROTO_ICMP:
		return "icmp"
	case unix.IPPROTO_ICMPV6:
		return "icmpv6"
	case unix.IPPROTO_SCTP:
		return "sctp"
	case unix.IPPROTO_GRE:
		return "gre"
	case unix.IPPROTO_DCCP:
		return "dccp"
	case unix.IPPROTO_UDPLITE:
		return "udplite"
	default:
		return "unknown"
	}
}

// tcpConntrackStates are the kernel's names (tcp_conntrack_names).
var tcpConntrackStates = []string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
	"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

func tcpConntrackState(s uint8) string {
	if int(s) < len(tcpConntrackStates) {
		return tcpConntrackStates[s]
	}
	return strconv.Itoa(int(s))
}

func (n *Node) conntrackExec(ctx context.Context, families []string) ([]ConntrackEntry, error) {
	var out []ConntrackEntry
	for _, fam := range families {
		raw, err := n.run.Run(ctx, []string{"conntrack", "-L", "-o", "extended", "-f", fam})
		if err != nil {
			return nil, fmt.Errorf("list conntrack entries in %s: %w", n.name, err)
		}
		entries, err := parseConntrackExtended(raw)
		if err != nil {
			return nil, fmt.Errorf("list conntrack entries in %s: %w", n.name, err)
		}
		out = append(out, entries...)
	}
	return out, nil
}

// parseConntrackExtended reads `conntrack -L -o extended` lines:
//
//	ipv4     2 tcp      6 117 TIME_WAIT src=10.0.0.2 dst=10.0.1.2 sport=41234 dport=8080 src=10.0.1.2 dst=10.0.0.2 sport=8080 dport=41234 [ASSURED] mark=0 use=1
//	ipv4     2 icmp     1 29 src=10.0.0.2 dst=10.0.1.2 type=8 code=0 id=7 src=10.0.1.2 dst=10.0.0.2 type=0 code=0 id=7 mark=0 use=1
func parseConntrackExtended(raw []byte) ([]ConntrackEntry, error) {
	var out []ConntrackEntry
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || (fields[0] != "ipv4" && fields[0] != "ipv6") {
			continue
		}
		num, err := strconv.Atoi(fields[3])
		if err != nil {
			return nil, fmt.Errorf("conntrack line %q: protocol number %q", sc.Text(), fields[3])
		}
		e := ConntrackEntry{Family: fields[0], Protocol: fields[2], ProtocolNumber: uint8(num)}
		cur, srcSeen := &e.Original, false
		withPorts := e.Protocol == "tcp" || e.Protocol == "udp"
		for _, tok := range fields[5:] {
			key, value, ok := strings.Cut(tok, "=")
			if !ok {
				if e.Protocol == "tcp" && !strings.HasPrefix(tok, "[") && e.State == "" {
					e.State = tok
				}
				continue
			}
			switch key {
			case "src":
				if srcSeen {
					cur = &e.Reply
				}
				srcSeen = true
				cur.Source, err = netip.ParseAddr(value)
			case "dst":
				cur.Destination, err = netip.ParseAddr(value)
			case "sport":
				if withPorts {
					cur.SourcePort, err = parsePort(value)
				}
			case "dport":
				if withPorts {
					cur.DestinationPort, err = parsePort(value)
				}
			}
			if err != nil {
				return nil, fmt.Errorf("conntrack line %q: %s: %w", sc.Text(), tok, err)
			}
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func parsePort(s string) (uint16, error) {
	v, err := strconv.ParseUint(s, 10, 16)
	return uint16(v), err
}
