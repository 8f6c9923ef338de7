package probe

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints the report for a human: one section per probe.
func (r Report) WriteTable(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "node %s (probes ran %s, %s)\n", r.Node, accessText(r.Access), r.Took.Round(time.Millisecond))

	section(w, "XDP", ProbeXDP, r.Errors, r.XDP != nil, func() {
		fmt.Fprintln(w, "  DEVICE\tATTACHED\tMODE\tPROGRAM ID\tPROGRAM NAME")
		for _, a := range r.XDP {
			fmt.Fprintf(w, "  %s\t%t\t%s\t%s\t%s\n", a.Device, a.Attached, a.Mode, idText(a.ProgramID), dash(a.ProgramName))
		}
	})
	section(w, "TC / TCX BPF PROGRAMS", ProbeTC, r.Errors, r.TC != nil, func() {
		if len(r.TC.Programs) == 0 {
			fmt.Fprintln(w, "  none")
		} else {
			fmt.Fprintln(w, "  DEVICE\tDIRECTION\tHOOK\tPROGRAM ID\tPROGRAM NAME")
		}
		for _, p := range r.TC.Programs {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%d\t%s\n", p.Device, p.Direction, p.Attach, p.ProgramID, dash(p.ProgramName))
		}
		if !r.TC.TCXListed {
			fmt.Fprintf(w, "  note: %s\n", r.TC.TCXNote)
		}
	})
	section(w, "DEVICES", ProbeDevices, r.Errors, r.Devices != nil, func() {
		fmt.Fprintln(w, "  NAME\tKIND\tMTU\tUP\tGSO MAX\tGRO MAX\tGSO IPV4 MAX\tGRO IPV4 MAX\tQDISC\tFQ")
		for _, d := range r.Devices {
			fmt.Fprintf(w, "  %s\t%s\t%d\t%t\t%d\t%d\t%s\t%s\t%s\t%t\n", d.Name, d.Kind, d.MTU, d.Up,
				d.GSOMaxSize, d.GROMaxSize, sizeText(d.GSOIPv4MaxSize), sizeText(d.GROIPv4MaxSize), dash(d.Qdisc), d.FQ)
		}
	})
	section(w, "ROUTES (main table)", ProbeRoutes, r.Errors, r.Routes != nil, func() {
		fmt.Fprintln(w, "  DESTINATION\tGATEWAY\tDEVICE\tPROTOCOL\tSCOPE\tTYPE")
		for _, rt := range r.Routes {
			gw, dev := addrText(rt.Gateway.String(), rt.Gateway.IsValid()), dash(rt.Device)
			for _, h := range rt.Nexthops {
				gw, dev = gw+" "+h.Gateway.String(), dev+" "+h.Device
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", rt.Destination, gw, dev, rt.Protocol, rt.Scope, rt.Type)
		}
	})
	section(w, "CONNTRACK", ProbeConntrack, r.Errors, r.Conntrack != nil, func() {
		fmt.Fprintf(w, "  entries: %d\n", r.Conntrack.Entries)
		if len(r.Conntrack.NotrackRules) == 0 {
			fmt.Fprintln(w, "  NOTRACK rules: none")
			return
		}
		fmt.Fprintln(w, "  NOTRACK RULE CIDR\tMATCHES\tBACKEND\tFAMILY\tTABLE/CHAIN\tPACKETS\tCOMMENT")
		for _, nr := range r.Conntrack.NotrackRules {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s/%s\t%d\t%s\n", addrText(nr.CIDR.String(), nr.CIDR.IsValid()), dash(nr.Matches),
				nr.Backend, nr.Family, nr.Table, nr.Chain, nr.Packets, dash(nr.Comment))
		}
	})
	section(w, "NAT (MASQUERADE / SNAT rules)", ProbeNAT, r.Errors, r.NAT != nil, func() {
		if len(r.NAT.MasqueradeRules) == 0 {
			fmt.Fprintln(w, "  none")
			return
		}
		fmt.Fprintln(w, "  BACKEND\tFAMILY\tCHAIN\tTARGET\tPACKETS\tBYTES\tRULE")
		for _, nr := range r.NAT.MasqueradeRules {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%d\t%d\t%s\n", nr.Backend, nr.Family, nr.Chain, nr.Target, nr.Packets, nr.Bytes, nr.Spec)
		}
	})
	section(w, "TCP CONGESTION CONTROL", ProbeCongestionControl, r.Errors, r.CongestionControl != nil, func() {
		cc := r.CongestionControl
		fmt.Fprintf(w, "  default: %s\n  available: %s\n  allowed: %s\n", cc.Default,
			strings.Join(cc.Available, " "), strings.Join(cc.Allowed, " "))
	})
	section(w, "IPTABLES BACKENDS", ProbeIPTables, r.Errors, r.IPTables != nil, func() {
		fmt.Fprintln(w, "  BACKEND\tFAMILY\tREAD\tRULES PER TABLE")
		for _, b := range r.IPTables {
			detail := b.Error
			if b.Read {
				detail = tableCounts(b.Rules)
			}
			fmt.Fprintf(w, "  %s\t%s\t%t\t%s\n", b.Backend, b.Family, b.Read, detail)
		}
	})
	return w.Flush()
}

// section prints a heading and either the body or the probe's error.
func section(w io.Writer, title, probe string, errs map[string]string, ok bool, body func()) {
	fmt.Fprintf(w, "\n%s\n", title)
	if e, failed := errs[probe]; failed {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	if ok {
		body()
	}
}

func accessText(access string) string {
	if access == "exec" {
		return "through the node's own tools"
	}
	return "inside the node's namespace"
}

func idText(id uint32) string {
	if id == 0 {
		return "-"
	}
	return fmt.Sprint(id)
}

func sizeText(v *uint32) string {
	if v == nil {
		return "?"
	}
	return fmt.Sprint(*v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func addrText(s string, valid bool) string {
	if !valid {
		return "-"
	}
	return s
}

func tableCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for t, n := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", t, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
