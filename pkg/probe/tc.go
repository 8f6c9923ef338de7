package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
)

// Where a tc BPF program is attached.
const (
	AttachTCX = "tcx" // the tcx hook (Linux 6.6+), what Cilium uses by default
	AttachTC  = "tc"  // a classic cls_bpf filter under a clsact/ingress qdisc
)

// Directions of a tc hook.
const (
	Ingress = "ingress"
	Egress  = "egress"
)

// TCProgram is one BPF program on a device's tc or tcx hook.
type TCProgram struct {
	Device      string `json:"device"`
	Direction   string `json:"direction"`
	Attach      string `json:"attach"`
	ProgramID   uint32 `json:"programId"`
	ProgramName string `json:"programName"`
}

// TCPrograms is every BPF program on the node's tc and tcx hooks.
type TCPrograms struct {
	Programs []TCProgram `json:"programs"`
	// TCXListed is false when tcx hooks could not be read (the exec path:
	// no node tool in Debian bookworm lists them; bpftool >= 7.3 would);
	// Programs then holds classic tc filters only, and TCXNote says why.
	TCXListed bool   `json:"tcxListed"`
	TCXNote   string `json:"tcxNote,omitempty"`
}

// On returns the programs on one device and direction.
func (t TCPrograms) On(device, direction string) []TCProgram {
	var out []TCProgram
	for _, p := range t.Programs {
		if p.Device == device && p.Direction == direction {
			out = append(out, p)
		}
	}
	return out
}

// TC lists the BPF programs on every device's tc and tcx hooks, by device,
// direction (ingress first), hook (tcx first) and then in the order the
// kernel runs them.
func (n *Node) TC(ctx context.Context) (TCPrograms, error) {
	var t TCPrograms
	var err error
	if n.Enterable() {
		t, err = n.tcNetlink()
	} else {
		t, err = n.tcExec(ctx)
	}
	if err != nil {
		return TCPrograms{}, err
	}
	slices.SortStableFunc(t.Programs, func(a, b TCProgram) int {
		return cmpJoin(strings.Compare(a.Device, b.Device),
			strings.Compare(b.Direction, a.Direction), // "ingress" before "egress"
			strings.Compare(b.Attach, a.Attach))       // "tcx" before "tc"
	})
	return t, nil
}

func cmpJoin(cs ...int) int {
	for _, c := range cs {
		if c != 0 {
			return c
		}
	}
	return 0
}

func (n *Node) tcNetlink() (TCPrograms, error) {
	links, err := n.rtLinks()
	if err != nil {
		return TCPrograms{}, err
	}
	t := TCPrograms{Programs: []TCProgram{}, TCXListed: true}
	// tcx: BPF_PROG_QUERY resolves the ifindex in the caller's namespace.
	err = n.Do(func() error {
		for _, l := range links {
			for _, hook := range []struct {
				dir    string
				attach ebpf.AttachType
			}{{Ingress, ebpf.AttachTCXIngress}, {Egress, ebpf.AttachTCXEgress}} {
				res, err := link.QueryPrograms(link.QueryOptions{Target: l.Index, Attach: hook.attach})
				if err != nil {
					return fmt.Errorf("query tcx %s programs on %s: %w", hook.dir, l.Name, err)
				}
				for _, p := range res.Programs {
					t.Programs = append(t.Programs, TCProgram{Device: l.Name, Direction: hook.dir, Attach: AttachTCX, ProgramID: uint32(p.ID)})
				}
			}
		}
		return nil
	})
	if err != nil {
		return TCPrograms{}, fmt.Errorf("%s: %w", n.name, err)
	}
	classic, err := n.classicTCNetlink(links)
	if err != nil {
		return TCPrograms{}, err
	}
	t.Programs = append(t.Programs, classic...)
	for i, p := range t.Programs {
		if t.Programs[i].ProgramName, err = programName(p.ProgramID); err != nil {
			return TCPrograms{}, fmt.Errorf("%s program %d on %s in %s: %w", p.Attach, p.ProgramID, p.Device, n.name, err)
		}
	}
	return t, nil
}

// classicTCNetlink lists cls_bpf filters on devices that have a clsact or
// ingress qdisc.
func (n *Node) classicTCNetlink(links []rtLink) ([]TCProgram, error) {
	qdiscs, err := n.nl.QdiscList(nil)
	if err != nil {
		return nil, fmt.Errorf("list qdiscs in %s: %w", n.name, err)
	}
	hooks := map[int]string{} // ifindex -> clsact | ingress
	for _, q := range qdiscs {
		if k := q.Type(); k == "clsact" || k == "ingress" {
			hooks[q.Attrs().LinkIndex] = k
		}
	}
	var out []TCProgram
	for _, l := range links {
		kind, ok := hooks[l.Index]
		if !ok {
			continue
		}
		dirs := []string{Ingress}
		if kind == "clsact" {
			dirs = append(dirs, Egress)
		}
		for _, dir := range dirs {
			parent := uint32(netlink.HANDLE_MIN_INGRESS)
			if dir == Egress {
				parent = netlink.HANDLE_MIN_EGRESS
			}
			filters, err := n.nl.FilterList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: l.Index, Name: l.Name}}, parent)
			if err != nil {
				return nil, fmt.Errorf("list tc %s filters on %s in %s: %w", dir, l.Name, n.name, err)
			}
			for _, f := range filters {
				if bpf, ok := f.(*netlink.BpfFilter); ok && bpf.Id != 0 {
					out = append(out, TCProgram{Device: l.Name, Direction: dir, Attach: AttachTC, ProgramID: uint32(bpf.Id)})
				}
			}
		}
	}
	return out, nil
}

// tcFilter is one filter as `tc -j filter show` prints it.
type tcFilter struct {
	Kind    string `json:"kind"`
	Options *struct {
		Prog *struct {
			ID   uint32 `json:"id"`
			Name string `json:"name"`
		} `json:"prog"`
	} `json:"options"`
}

const tcxNotListedExec = "tcx programs are not listed on the exec path: iproute2 does not show them and bpftool lists them per device only from v7.3; enter the node's namespace (root on the node's machine) to see them"

func (n *Node) tcExec(ctx context.Context) (TCPrograms, error) {
	out, err := n.run.Run(ctx, []string{"tc", "-j", "qdisc", "show"})
	if err != nil {
		return TCPrograms{}, fmt.Errorf("list qdiscs in %s: %w", n.name, err)
	}
	var qdiscs []tcQdisc
	if err := json.Unmarshal(out, &qdiscs); err != nil {
		return TCPrograms{}, fmt.Errorf("list qdiscs in %s: decode `tc -j qdisc show`: %w", n.name, err)
	}
	t := TCPrograms{Programs: []TCProgram{}, TCXListed: false, TCXNote: tcxNotListedExec}
	for _, q := range qdiscs {
		if q.Kind != "clsact" && q.Kind != "ingress" {
			continue
		}
		dirs := []string{Ingress}
		if q.Kind == "clsact" {
			dirs = append(dirs, Egress)
		}
		for _, dir := range dirs {
			out, err := n.run.Run(ctx, []string{"tc", "-j", "filter", "show", "dev", q.Dev, dir})
			if err != nil {
				var ce *CommandError
				if errors.As(err, &ce) && strings.Contains(ce.Stderr, "Cannot find device") {
					continue // went away meanwhile
				}
				return TCPrograms{}, fmt.Errorf("list tc %s filters on %s in %s: %w", dir, q.Dev, n.name, err)
			}
			var filters []tcFilter
			if err := json.Unmarshal(out, &filters); err != nil {
				return TCPrograms{}, fmt.Errorf("decode `tc -j filter show dev %s %s` in %s: %w", q.Dev, dir, n.name, err)
			}
			for _, f := range filters {
				if f.Kind == "bpf" && f.Options != nil && f.Options.Prog != nil {
					t.Programs = append(t.Programs, TCProgram{Device: q.Dev, Direction: dir, Attach: AttachTC,
						ProgramID: f.Options.Prog.ID, ProgramName: f.Options.Prog.Name})
				}
			}
		}
	}
	return t, nil
}
