package probe

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Report is every probe's evidence for one node, keyed in JSON by probe
// name. A probe that failed has no value and an entry in Errors.
type Report struct {
	Node string `json:"node"`
	// Access is "namespace" (probes ran inside the node's namespace) or
	// "exec" (through the node's own tools).
	Access            string             `json:"access"`
	XDP               []XDPAttachment    `json:"xdp"`
	TC                *TCPrograms        `json:"tc"`
	Devices           []Device           `json:"devices"`
	Routes            []Route            `json:"routes"`
	Conntrack         *ConntrackReport   `json:"conntrack"`
	NAT               *NATReport         `json:"nat"`
	CongestionControl *CongestionControl `json:"congestionControl"`
	// IPTables says which backends and families were read and how many
	// rules each table holds there.
	IPTables []BackendRead     `json:"iptables"`
	Errors   map[string]string `json:"errors,omitempty"`
	// Took is how long the inspection took.
	Took time.Duration `json:"tookNanoseconds"`
}

// ConntrackReport is the conntrack probe: the table's size and the rules
// that keep traffic out of it.
type ConntrackReport struct {
	// Entries is the number of entries (what `conntrack -C` prints).
	Entries      int           `json:"entries"`
	NotrackRules []NotrackRule `json:"notrackRules"`
}

// NATReport is the NAT probe: the iptables rules that rewrite sources, with
// their counters (zero counters beside working masquerading mean it
// happened in BPF).
type NATReport struct {
	MasqueradeRules []Rule `json:"masqueradeRules"`
}

// InspectOptions narrows an inspection.
type InspectOptions struct {
	// Device limits the per-device probes (xdp, tc, devices, routes) to one
	// device.
	Device string
}

// Probe names, the keys of Report in JSON.
const (
	ProbeXDP               = "xdp"
	ProbeTC                = "tc"
	ProbeDevices           = "devices"
	ProbeRoutes            = "routes"
	ProbeConntrack         = "conntrack"
	ProbeNAT               = "nat"
	ProbeCongestionControl = "congestionControl"
	ProbeIPTables          = "iptables"
)

// Inspect runs every probe on the node, concurrently. It returns an error
// only when the device asked for does not exist or no probe worked; single
// probe failures are in Report.Errors.
func (n *Node) Inspect(ctx context.Context, opts InspectOptions) (Report, error) {
	start := time.Now()
	r := Report{Node: n.name, Access: "exec"}
	if n.Enterable() {
		r.Access = "namespace"
	} else {
		// On the exec path (100-300 ms a docker exec) run the commands the
		// probes need in one batch, and each command at most once.
		memo := &memoRunner{r: n.run, calls: map[string]*memoCall{}}
		memo.prefetch(ctx, inspectCommands())
		shared := *n
		shared.run = memo
		n = &shared
	}
	if opts.Device != "" {
		if _, err := n.Device(ctx, opts.Device); err != nil {
			return r, err
		}
	}
	var mu sync.Mutex
	errs := map[string]string{}
	var wg sync.WaitGroup
	probe := func(name string, fn func() error) {
		wg.Go(func() {
			if err := fn(); err != nil {
				mu.Lock()
				errs[name] = err.Error()
				mu.Unlock()
			}
		})
	}
	probe(ProbeXDP, func() (err error) {
		r.XDP, err = n.XDP(ctx)
		r.XDP = filterDevice(r.XDP, opts.Device, func(a XDPAttachment) string { return a.Device })
		return err
	})
	probe(ProbeTC, func() error {
		t, err := n.TC(ctx)
		if err != nil {
			return err
		}
		t.Programs = filterDevice(t.Programs, opts.Device, func(p TCProgram) string { return p.Device })
		r.TC = &t
		return nil
	})
	probe(ProbeDevices, func() (err error) {
		r.Devices, err = n.Devices(ctx)
		r.Devices = filterDevice(r.Devices, opts.Device, func(d Device) string { return d.Name })
		return err
	})
	probe(ProbeRoutes, func() (err error) {
		r.Routes, err = n.Routes(ctx)
		r.Routes = filterDevice(r.Routes, opts.Device, func(rt Route) string { return rt.Device })
		return err
	})
	probe(ProbeCongestionControl, func() error {
		cc, err := n.CongestionControl(ctx)
		if err == nil {
			r.CongestionControl = &cc
		}
		return err
	})
	// conntrack and nat share the iptables read; they are assembled below.
	var (
		entries    int
		entriesErr error
		tables     IPTables
		tablesErr  error
	)
	wg.Go(func() { entries, entriesErr = n.ConntrackCount(ctx, ConntrackFilter{}) })
	wg.Go(func() { tables, tablesErr = n.IPTables(ctx) })
	wg.Wait()

	r.IPTables = tables.Reads
	if tablesErr != nil {
		errs[ProbeIPTables] = tablesErr.Error()
		errs[ProbeNAT] = tablesErr.Error()
	} else {
		r.NAT = &NATReport{MasqueradeRules: nonNil(tables.SourceNAT())}
	}
	switch {
	case entriesErr != nil:
		errs[ProbeConntrack] = entriesErr.Error()
	case tablesErr != nil:
		errs[ProbeConntrack] = fmt.Sprintf("entries counted (%d), NOTRACK rules unknown: %v", entries, tablesErr)
	default:
		r.Conntrack = &ConntrackReport{Entries: entries, NotrackRules: nonNil(tables.Notrack())}
	}
	if len(errs) > 0 {
		r.Errors = errs
	}
	r.Took = time.Since(start)
	if r.XDP == nil && r.TC == nil && r.Devices == nil && r.Routes == nil && r.Conntrack == nil &&
		r.NAT == nil && r.CongestionControl == nil {
		return r, fmt.Errorf("inspect %s: every probe failed, first %s", n.name, firstError(errs))
	}
	return r, nil
}

func filterDevice[T any](items []T, device string, dev func(T) string) []T {
	if device == "" || items == nil {
		return items
	}
	out := []T{}
	for _, it := range items {
		if dev(it) == device {
			out = append(out, it)
		}
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func firstError(errs map[string]string) string {
	for _, name := range []string{ProbeDevices, ProbeXDP, ProbeTC, ProbeRoutes, ProbeConntrack, ProbeNAT, ProbeCongestionControl} {
		if e, ok := errs[name]; ok {
			return name + ": " + e
		}
	}
	return "unknown"
}

// memoRunner runs each distinct command once and hands every caller the
// same output: one inspection's probes then share the node's answers.
type memoRunner struct {
	r     Runner
	mu    sync.Mutex
	calls map[string]*memoCall
}

type memoCall struct {
	once sync.Once
	out  []byte
	err  error
}

func (m *memoRunner) Run(ctx context.Context, argv []string) ([]byte, error) {
	key := strings.Join(argv, "\x00")
	m.mu.Lock()
	c, ok := m.calls[key]
	if !ok {
		c = &memoCall{}
		m.calls[key] = c
	}
	m.mu.Unlock()
	c.once.Do(func() { c.out, c.err = m.r.Run(ctx, argv) })
	return c.out, c.err
}

// inspectCommands are the node commands the probes run on the exec path
// (tc filter listings depend on the qdiscs found and run on their own).
func inspectCommands() [][]string {
	cmds := [][]string{
		{"ip", "-j", "-d", "link", "show"},
		{"tc", "-j", "qdisc", "show"},
		{"ip", "-j", "-4", "route", "show", "table", "main"},
		{"ip", "-j", "-6", "route", "show", "table", "main"},
		append([]string{"cat"}, congestionSysctls...),
		{"conntrack", "-C"},
	}
	for _, c := range saveCommands {
		cmds = append(cmds, c.argv)
	}
	return cmds
}

// prefetch runs cmds as one batch and keeps the output of those that
// succeeded; a failed one (or all, if the node has no sh) runs again on its
// own when a probe asks, which reports its real error.
func (m *memoRunner) prefetch(ctx context.Context, cmds [][]string) {
	results, err := runBatch(ctx, m.r, cmds)
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, res := range results {
		if res.code != 0 {
			continue
		}
		c := &memoCall{}
		c.once.Do(func() { c.out = res.out })
		m.calls[strings.Join(cmds[i], "\x00")] = c
	}
}
