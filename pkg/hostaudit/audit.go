// Package hostaudit reads the host tunings of Cilium's tuning guide
// (tuning.HostAudit: tuned profile, CPU governor, irqbalance, NIC IRQ
// affinity, preemption model) from each machine that runs the cluster's
// kernel, and turns them into informational verdicts: reported, never
// failing a run unless the user asks for it (--require-host-tuning).
package hostaudit

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// State is what the audit found for one item on one machine.
type State string

const (
	// Tuned: the machine has the recommended setting.
	Tuned State = "tuned"
	// NotTuned: the machine could have it and does not.
	NotTuned State = "not-tuned"
	// Unknown: the machine does not expose it (no cpufreq in a VM, no NIC
	// with its own IRQs, no kernel config) or it could not be read.
	Unknown State = "unknown"
)

// Finding is one host item on one machine.
type Finding struct {
	Machine string `json:"machine"`
	Key     string `json:"key"`
	Title   string `json:"title"`
	Want    string `json:"want"`
	State   State  `json:"state"`
	// Value is what was read, in one line ("powersave on cpu0-3").
	Value string `json:"value"`
	// Evidence is the raw readings, by file.
	Evidence map[string]any `json:"evidence,omitempty"`
}

// Audit reads every item of tuning.HostAudit() from a machine. Errors
// reading one item make that item Unknown with the error as its value;
// the audit itself never fails.
func Audit(ctx context.Context, src Source) []Finding {
	readers := map[string]func(context.Context, Source) (State, string, map[string]any){
		"tuned-profile":    tunedProfile,
		"cpu-governor":     cpuGovernor,
		"irqbalance":       irqbalance,
		"nic-irq-affinity": nicIRQAffinity,
		"preempt-none":     preemptNone,
	}
	var out []Finding
	for _, item := range tuning.HostAudit() {
		f := Finding{Machine: src.Name(), Key: item.Key, Title: item.Title, Want: item.Want}
		read, ok := readers[item.Key]
		if !ok {
			f.State, f.Value = Unknown, "tunedcilium cannot read this item yet"
		} else {
			f.State, f.Value, f.Evidence = read(ctx, src)
		}
		out = append(out, f)
	}
	return out
}

func tunedProfile(ctx context.Context, src Source) (State, string, map[string]any) {
	const file = "/etc/tuned/active_profile"
	b, err := src.ReadFile(ctx, file)
	if errors.Is(err, fs.ErrNotExist) {
		return NotTuned, "tuned is not set up (no " + file + ")", nil
	}
	if err != nil {
		return Unknown, err.Error(), nil
	}
	active := strings.Fields(string(b))
	ev := map[string]any{file: strings.TrimSpace(string(b))}
	if len(active) == 0 {
		return NotTuned, "no tuned profile active (" + file + " is empty)", ev
	}
	for _, p := range active {
		if p == "network-latency" || p == "network-throughput" {
			return Tuned, "tuned profile " + strings.Join(active, " "), ev
		}
	}
	return NotTuned, "tuned profile " + strings.Join(active, " ") + " (not a network-* profile)", ev
}

func cpuGovernor(ctx context.Context, src Source) (State, string, map[string]any) {
	files, err := src.ReadGlob(ctx, "/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor")
	if err != nil {
		return Unknown, err.Error(), nil
	}
	if len(files) == 0 {
		return Unknown, "no cpufreq: the kernel exposes no frequency scaling here (usual in a VM)", nil
	}
	byGov := map[string][]string{}
	ev := map[string]any{}
	for p, b := range files {
		g := strings.TrimSpace(string(b))
		cpu := path.Base(path.Dir(path.Dir(p)))
		byGov[g] = append(byGov[g], cpu)
		ev[p] = g
	}
	var parts []string
	for g, cpus := range byGov {
		sort.Slice(cpus, func(i, j int) bool { return cpuIndex(cpus[i]) < cpuIndex(cpus[j]) })
		parts = append(parts, g+" on "+strings.Join(cpus, ","))
	}
	sort.Strings(parts)
	if len(byGov) == 1 && len(byGov["performance"]) > 0 {
		return Tuned, strings.Join(parts, "; "), ev
	}
	return NotTuned, strings.Join(parts, "; "), ev
}

func cpuIndex(cpu string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(cpu, "cpu"))
	return n
}

func irqbalance(ctx context.Context, src Source) (State, string, map[string]any) {
	files, err := src.ReadGlob(ctx, "/proc/[0-9]*/comm")
	if err != nil {
		return Unknown, err.Error(), nil
	}
	if len(files) == 0 {
		return Unknown, "no process list readable in /proc", nil
	}
	var pids []string
	for p, b := range files {
		if strings.TrimSpace(string(b)) == "irqbalance" {
			pids = append(pids, path.Base(path.Dir(p)))
		}
	}
	ev := map[string]any{"processes": len(files)}
	if len(pids) > 0 {
		sort.Strings(pids)
		ev["irqbalancePIDs"] = pids
		return NotTuned, "irqbalance is running (pid " + strings.Join(pids, ", ") + ")", ev
	}
	return Tuned, fmt.Sprintf("no irqbalance among %d processes", len(files)), ev
}

// nic is a network device backed by hardware (not under devices/virtual),
// with the names its interrupts carry in /proc/interrupts.
type nic struct {
	name   string
	tokens []string
}

var pciAddr = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]$`)

// nics lists hardware network devices from the /sys/class/net links:
// eth0 -> ../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0 gives
// the tokens eth0, virtio2 and 0000:00:03.0.
func nics(links map[string]string) []nic {
	var out []nic
	for p, target := range links {
		if strings.Contains(target, "/virtual/") {
			continue
		}
		n := nic{name: path.Base(p), tokens: []string{path.Base(p)}}
		// The device directory before /net/NAME (virtio2, or the PCI
		// function itself), and the PCI function closest to it: not the
		// bridges above, whose addresses other devices share.
		parts := strings.Split(target, "/")
		pci := ""
		for i, part := range parts {
			if part == "net" && i > 0 && parts[i-1] != "devices" && !pciAddr.MatchString(parts[i-1]) {
				n.tokens = append(n.tokens, parts[i-1])
			}
			if pciAddr.MatchString(part) {
				pci = part
			}
		}
		if pci != "" {
			n.tokens = append(n.tokens, pci)
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// IRQ is one numbered interrupt line of /proc/interrupts.
type IRQ struct {
	Number  int
	Actions []string
}

// ParseInterrupts reads the numbered lines of /proc/interrupts: the IRQ
// number, the per-CPU counts, the chip and hardware IRQ, and the action
// (device) names last.
func ParseInterrupts(data []byte, cpus int) []IRQ {
	lines := strings.Split(string(data), "\n")
	if cpus == 0 && len(lines) > 0 {
		cpus = len(strings.Fields(lines[0]))
	}
	var out []IRQ
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(f[0], ":"))
		if err != nil {
			continue // NMI, LOC, ...: not device interrupts
		}
		rest := f[1:]
		if len(rest) > cpus {
			rest = rest[cpus:]
		} else {
			rest = nil
		}
		// chip name and hwirq/trigger come first; actions (comma-separated
		// device names) are the last field(s).
		var actions []string
		if len(rest) >= 3 {
			for _, a := range strings.Split(strings.Join(rest[2:], " "), ",") {
				if a = strings.TrimSpace(a); a != "" {
					actions = append(actions, a)
				}
			}
		}
		out = append(out, IRQ{Number: n, Actions: actions})
	}
	return out
}

func (n nic) owns(action string) bool {
	for _, t := range n.tokens {
		if action == t || strings.HasPrefix(action, t+"-") || strings.HasPrefix(action, t+"_") ||
			strings.Contains(action, "@pci:"+t) || (pciAddr.MatchString(t) && strings.Contains(action, t)) {
			return true
		}
	}
	return false
}

func nicIRQAffinity(ctx context.Context, src Source) (State, string, map[string]any) {
	links, err := src.ReadLinks(ctx, "/sys/class/net/*")
	if err != nil {
		return Unknown, err.Error(), nil
	}
	devs := nics(links)
	if len(devs) == 0 {
		return Unknown, "no hardware NIC (every network device is virtual)", nil
	}
	data, err := src.ReadFile(ctx, "/proc/interrupts")
	if err != nil {
		return Unknown, err.Error(), nil
	}
	irqs := ParseInterrupts(data, 0)
	ev := map[string]any{}
	var spread, pinned []string
	for _, d := range devs {
		for _, irq := range irqs {
			owned := false
			for _, a := range irq.Actions {
				if d.owns(a) {
					owned = true
				}
			}
			if !owned {
				continue
			}
			file := fmt.Sprintf("/proc/irq/%d/smp_affinity_list", irq.Number)
			b, err := src.ReadFile(ctx, file)
			if err != nil {
				continue
			}
			aff := strings.TrimSpace(string(b))
			label := fmt.Sprintf("%s IRQ %d (%s) on CPUs %s", d.name, irq.Number, strings.Join(irq.Actions, ","), aff)
			ev[file] = aff
			if singleCPU(aff) {
				pinned = append(pinned, label)
			} else {
				spread = append(spread, label)
			}
		}
	}
	names := make([]string, len(devs))
	for i, d := range devs {
		names[i] = d.name
	}
	ev["nics"] = names
	switch {
	case len(spread)+len(pinned) == 0:
		return Unknown, "no IRQ in /proc/interrupts belongs to " + strings.Join(names, ", "), ev
	case len(spread) > 0:
		return NotTuned, fmt.Sprintf("%d of %d NIC IRQs not pinned to one CPU: %s", len(spread), len(spread)+len(pinned), strings.Join(spread, "; ")), ev
	}
	return Tuned, fmt.Sprintf("all %d NIC IRQs pinned: %s", len(pinned), strings.Join(pinned, "; ")), ev
}

// singleCPU reports an affinity list naming exactly one CPU ("3", "3-3").
func singleCPU(list string) bool {
	if strings.Contains(list, ",") {
		return false
	}
	lo, hi, ok := strings.Cut(list, "-")
	if !ok {
		_, err := strconv.Atoi(list)
		return err == nil
	}
	return lo == hi
}

func preemptNone(ctx context.Context, src Source) (State, string, map[string]any) {
	cfg, where, err := kernelConfig(ctx, src)
	if err != nil {
		return Unknown, err.Error(), nil
	}
	ev := map[string]any{"config": where, "CONFIG_PREEMPT_NONE": orNotSet(cfg["CONFIG_PREEMPT_NONE"]),
		"CONFIG_PREEMPT_DYNAMIC": orNotSet(cfg["CONFIG_PREEMPT_DYNAMIC"])}
	// With dynamic preemption the boot line or debugfs may pick another
	// model than the built-in default.
	if b, err := src.ReadFile(ctx, "/sys/kernel/debug/sched/preempt"); err == nil {
		mode := currentPreempt(string(b))
		ev["/sys/kernel/debug/sched/preempt"] = strings.TrimSpace(string(b))
		if mode != "" && mode != "none" {
			return NotTuned, "preemption model " + mode + " (debugfs sched/preempt)", ev
		}
		if mode == "none" {
			return Tuned, "preemption model none (debugfs sched/preempt)", ev
		}
	}
	if cfg["CONFIG_PREEMPT_DYNAMIC"] == "y" {
		if b, err := src.ReadFile(ctx, "/proc/cmdline"); err == nil {
			for _, arg := range strings.Fields(string(b)) {
				if mode, ok := strings.CutPrefix(arg, "preempt="); ok {
					ev["/proc/cmdline preempt"] = mode
					if mode != "none" {
						return NotTuned, "kernel built with CONFIG_PREEMPT_NONE=" + orNotSet(cfg["CONFIG_PREEMPT_NONE"]) + " but booted with preempt=" + mode, ev
					}
					return Tuned, "booted with preempt=none (" + where + ")", ev
				}
			}
		}
	}
	if cfg["CONFIG_PREEMPT_NONE"] == "y" {
		return Tuned, "CONFIG_PREEMPT_NONE=y (" + where + ")", ev
	}
	model := "unknown"
	for _, k := range []string{"CONFIG_PREEMPT_RT", "CONFIG_PREEMPT", "CONFIG_PREEMPT_LAZY", "CONFIG_PREEMPT_VOLUNTARY"} {
		if cfg[k] == "y" {
			model = k + "=y"
			break
		}
	}
	return NotTuned, "CONFIG_PREEMPT_NONE is not set; " + model + " (" + where + ")", ev
}

// currentPreempt reads "none voluntary (full) lazy": the model in
// parentheses is the one in force.
func currentPreempt(s string) string {
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, "(") && strings.HasSuffix(f, ")") {
			return strings.Trim(f, "()")
		}
	}
	return ""
}

func orNotSet(v string) string {
	if v == "" {
		return "not set"
	}
	return v
}

// KernelConfigText returns a machine's kernel release and its build
// configuration as text, and where the configuration was found
// (/proc/config.gz, else /boot/config-<release>): what a bug report needs.
func KernelConfigText(ctx context.Context, src Source) (release, config, where string, err error) {
	rel, err := src.ReadFile(ctx, "/proc/sys/kernel/osrelease")
	if err != nil {
		return "", "", "", err
	}
	release = strings.TrimSpace(string(rel))
	if b, err := src.ReadFile(ctx, "/proc/config.gz"); err == nil {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return release, "", "", fmt.Errorf("%s: /proc/config.gz: %w", src.Name(), err)
		}
		text, err := io.ReadAll(io.LimitReader(zr, 64<<20))
		if err != nil {
			return release, "", "", fmt.Errorf("%s: /proc/config.gz: %w", src.Name(), err)
		}
		return release, string(text), "/proc/config.gz", nil
	}
	file := "/boot/config-" + release
	b, err := src.ReadFile(ctx, file)
	if err != nil {
		return release, "", "", fmt.Errorf("%s: no kernel config in /proc/config.gz or %s", src.Name(), file)
	}
	return release, string(b), file, nil
}

// kernelConfig reads the machine's kernel config: /proc/config.gz, else
// /boot/config-<release>.
func kernelConfig(ctx context.Context, src Source) (kernel.Config, string, error) {
	if b, err := src.ReadFile(ctx, "/proc/config.gz"); err == nil {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, "", fmt.Errorf("%s: /proc/config.gz: %w", src.Name(), err)
		}
		cfg, err := kernel.ParseConfig(io.LimitReader(zr, 64<<20))
		return cfg, "/proc/config.gz", err
	}
	rel, err := src.ReadFile(ctx, "/proc/sys/kernel/osrelease")
	if err != nil {
		return nil, "", err
	}
	file := "/boot/config-" + strings.TrimSpace(string(rel))
	b, err := src.ReadFile(ctx, file)
	if err != nil {
		return nil, "", fmt.Errorf("no kernel config in /proc/config.gz or %s", file)
	}
	cfg, err := kernel.ParseConfig(bytes.NewReader(b))
	return cfg, file, err
}
