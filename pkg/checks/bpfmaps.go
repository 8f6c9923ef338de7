package checks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// Cilium v1.20's map sizing (pkg/option/config.go, calculateDynamicBPFMapSizes):
// the memory a ratio gives is shared among the CT, NAT, neighbour and
// socket rev-NAT maps in proportion to their default entries, using the
// element sizes of their IPv6 keys and values (the largest), then clamped.
const (
	ctTCPDefault     = 2 << 18 // CTMapEntriesGlobalTCPDefault, 512Ki
	ctAnyDefault     = 2 << 17 // CTMapEntriesGlobalAnyDefault, 256Ki
	natDefault       = (ctTCPDefault + ctAnyDefault) * 2 / 3
	sockRevDefault   = ctAnyDefault
	ctTCPMin         = 1 << 17 // LimitTableAutoGlobalTCPMin
	natMin           = 1 << 17 // LimitTableAutoNatGlobalMin
	limitTableMax    = 1 << 24
	sizeofCTElement  = 38 + 56 // CtKey6Global + CtEntry
	sizeofNATElement = 38 + 56 // NatKey6 + NatEntry6
	sizeofNeighElem  = 16 + 8  // neighborsmap Key6 + Value
	sizeofSockRevEl  = 32 + 20 // SockRevNat6Key + SockRevNat6Value
)

// totalMapMemoryDefault is the memory the default entries of every sized map take.
const totalMapMemoryDefault = ctTCPDefault*sizeofCTElement + ctAnyDefault*sizeofCTElement +
	natDefault*sizeofNATElement + natDefault*sizeofNeighElem + sockRevDefault*sizeofSockRevEl

// dynamicMapEntries is Cilium's size for a map with defaultEntries at a
// ratio of totalMemory, clamped to [min, 1<<24] (no distributed LRU rounding).
func dynamicMapEntries(defaultEntries, min int, totalMemory uint64, ratio float64) int {
	avail := int(float64(totalMemory) * ratio)
	entries := defaultEntries * avail / totalMapMemoryDefault
	if entries < min {
		return min
	}
	if entries > limitTableMax {
		return limitTableMax
	}
	return entries
}

// sizedMaps are the maps the checks read, with their default-ratio size.
var sizedMaps = []struct {
	name        string
	defaultSize func(totalMemory uint64) int
}{
	{"cilium_ct4_global", func(m uint64) int { return dynamicMapEntries(ctTCPDefault, ctTCPMin, m, DefaultMapSizeRatio) }},
	{"cilium_snat_v4_external", func(m uint64) int { return dynamicMapEntries(natDefault, natMin, m, DefaultMapSizeRatio) }},
}

// bpfNoCommonLRU is BPF_F_NO_COMMON_LRU: a per-CPU LRU list.
const bpfNoCommonLRU = 1 << 1

// MapInfo is one BPF map as the kernel reports it (bpftool -j map show).
type MapInfo struct {
	Node       string `json:"node"`
	Name       string `json:"name"`
	ID         uint32 `json:"id"`
	Type       string `json:"type"`
	MaxEntries int    `json:"maxEntries"`
	Flags      uint32 `json:"flags"`
	// DefaultSize is what the default ratio (0.0025) gives on this node.
	DefaultSize int `json:"defaultSize"`
	// Absent: the agent has not pinned the map (it is not created in this
	// configuration, e.g. no BPF SNAT map with iptables masquerading).
	Absent bool   `json:"absent,omitempty"`
	Err    string `json:"error,omitempty"`
}

// present keeps the maps that exist; absent lists the others.
func present(maps []MapInfo) (out []MapInfo, absent []string) {
	for _, m := range maps {
		if m.Absent {
			absent = append(absent, m.Node+" "+m.Name)
			continue
		}
		out = append(out, m)
	}
	return out, absent
}

func absentNote(absent []string) string {
	if len(absent) == 0 {
		return ""
	}
	return "; not created here: " + strings.Join(absent, ", ")
}

// DecideMapsSized: PASS when every map on every node has more entries than
// the default ratio gives on that node's memory. A map the configuration
// does not create (no SNAT map without BPF masquerading) is noted, not
// judged; at least one map must be there.
func DecideMapsSized(all []MapInfo) Decision {
	maps, absent := present(all)
	if len(maps) == 0 {
		return fail("no map measured%s", absentNote(absent))
	}
	var bad, good, unread []string
	for _, m := range maps {
		switch {
		case m.Err != "":
			unread = append(unread, fmt.Sprintf("%s %s: %s", m.Node, m.Name, firstLine(m.Err)))
		case m.MaxEntries <= m.DefaultSize:
			bad = append(bad, fmt.Sprintf("%s %s max_entries %d, the default ratio's size is %d", m.Node, m.Name, m.MaxEntries, m.DefaultSize))
		default:
			good = append(good, fmt.Sprintf("%s %s %d > %d", m.Node, m.Name, m.MaxEntries, m.DefaultSize))
		}
	}
	if len(unread) > 0 {
		return unmeasured("maps unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("default-sized maps: %s%s", strings.Join(bad, "; "), absentNote(absent))
	}
	return pass("maps larger than the default ratio gives (%s)%s", strings.Join(good, "; "), absentNote(absent))
}

// DecideDistributedLRU: PASS when every map on every node carries
// BPF_F_NO_COMMON_LRU (maps the configuration does not create are noted).
func DecideDistributedLRU(all []MapInfo) Decision {
	maps, absent := present(all)
	if len(maps) == 0 {
		return fail("no map measured%s", absentNote(absent))
	}
	var bad, good, unread []string
	for _, m := range maps {
		switch {
		case m.Err != "":
			unread = append(unread, fmt.Sprintf("%s %s: %s", m.Node, m.Name, firstLine(m.Err)))
		case m.Flags&bpfNoCommonLRU == 0:
			bad = append(bad, fmt.Sprintf("%s %s (%s) flags %#x: no BPF_F_NO_COMMON_LRU", m.Node, m.Name, m.Type, m.Flags))
		default:
			good = append(good, fmt.Sprintf("%s %s flags %#x", m.Node, m.Name, m.Flags))
		}
	}
	if len(unread) > 0 {
		return unmeasured("maps unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("one global LRU: %s%s", strings.Join(bad, "; "), absentNote(absent))
	}
	return pass("per-CPU LRU (BPF_F_NO_COMMON_LRU) on every map (%s)%s", strings.Join(good, "; "), absentNote(absent))
}

// bpftoolMap is the part of `bpftool -j map show` we read.
type bpftoolMap struct {
	ID         uint32 `json:"id"`
	Type       string `json:"type"`
	Name       string `json:"name"`
	Flags      uint32 `json:"flags"`
	MaxEntries int    `json:"max_entries"`
}

// errMapNotPinned says bpftool found no pinned map at the path.
var errMapNotPinned = errors.New("map not pinned")

// parseBpftoolMap reads `bpftool -j map show pinned PATH`. bpftool writes
// its errors as JSON on stdout too: {"error":"bpf obj get (...): No such
// file or directory"}.
func parseBpftoolMap(out []byte) (bpftoolMap, error) {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(bytes.TrimSpace(out), &e) == nil && e.Error != "" {
		if strings.Contains(e.Error, "No such file") {
			return bpftoolMap{}, fmt.Errorf("%w: %s", errMapNotPinned, e.Error)
		}
		return bpftoolMap{}, fmt.Errorf("bpftool: %s", e.Error)
	}
	var m bpftoolMap
	if err := json.Unmarshal(bytes.TrimSpace(out), &m); err != nil {
		return m, fmt.Errorf("decode bpftool map show: %w", err)
	}
	if m.ID == 0 {
		return m, fmt.Errorf("bpftool map show: no map id in %q", firstLine(string(out)))
	}
	return m, nil
}

// memTotal reads MemTotal from /proc/meminfo content, in bytes.
func memTotal(meminfo []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("MemTotal %q: %w", f[1], err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no MemTotal in /proc/meminfo")
}

// pinnedMapDir is where the agent pins its global maps.
const pinnedMapDir = "/sys/fs/bpf/tc/globals/"

// readMaps reads the sized maps of every node with bpftool inside the agent
// (which has the node's bpffs mounted and bpftool in its image), and the
// node's memory as the agent sees it.
func readMaps(ctx context.Context, env *Env) []MapInfo {
	var out []MapInfo
	for _, n := range env.Nodes {
		var total uint64
		mi, err := env.agentExec(ctx, n, "cat", "/proc/meminfo")
		if err == nil {
			total, err = memTotal(mi)
		}
		for _, sm := range sizedMaps {
			info := MapInfo{Node: n.Name, Name: sm.name}
			if err != nil {
				info.Err = "node memory: " + err.Error()
				out = append(out, info)
				continue
			}
			info.DefaultSize = sm.defaultSize(total)
			raw, merr := env.agentExec(ctx, n, "bpftool", "-j", "map", "show", "pinned", pinnedMapDir+sm.name)
			m, perr := parseBpftoolMap(raw)
			switch {
			case errors.Is(perr, errMapNotPinned):
				info.Absent = true
			case merr != nil:
				info.Err = merr.Error()
				if perr != nil && len(bytes.TrimSpace(raw)) > 0 {
					info.Err += ": " + perr.Error()
				}
			case perr != nil:
				info.Err = perr.Error()
			default:
				info.ID, info.Type, info.MaxEntries, info.Flags = m.ID, m.Type, m.MaxEntries, m.Flags
			}
			out = append(out, info)
		}
	}
	return out
}

func mapsSized(ctx context.Context, env *Env, _ tuning.Check) outcome {
	maps := readMaps(ctx, env)
	return outcome{Decision: DecideMapsSized(maps), Evidence: map[string]any{"maps": maps, "defaultRatio": DefaultMapSizeRatio}}
}

func mapsDistributedLRU(ctx context.Context, env *Env, _ tuning.Check) outcome {
	maps := readMaps(ctx, env)
	return outcome{Decision: DecideDistributedLRU(maps), Evidence: map[string]any{"maps": maps}}
}
