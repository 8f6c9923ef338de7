package probe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Backend is the iptables implementation that holds a rule. A node's rules
// can live in either (Cilium's image picks one per node), so both are read.
type Backend string

const (
	BackendLegacy Backend = "legacy" // x_tables, iptables-legacy
	BackendNFT    Backend = "nft"    // nf_tables through iptables-nft
)

// Rule is one iptables rule with its counters, as iptables-save -c prints it.
type Rule struct {
	Backend Backend `json:"backend"`
	Family  string  `json:"family"` // "ipv4" (iptables) or "ipv6" (ip6tables)
	Table   string  `json:"table"`
	Chain   string  `json:"chain"`
	// Source and Destination are the -s/-d matches (zero when absent);
	// the Negated flags record a leading "!".
	Source             netip.Prefix `json:"source,omitzero"`
	SourceNegated      bool         `json:"sourceNegated,omitempty"`
	Destination        netip.Prefix `json:"destination,omitzero"`
	DestinationNegated bool         `json:"destinationNegated,omitempty"`
	InInterface        string       `json:"inInterface,omitempty"`
	OutInterface       string       `json:"outInterface,omitempty"`
	Protocol           string       `json:"protocol,omitempty"`
	Comment            string       `json:"comment,omitempty"`
	Target             string       `json:"target,omitempty"` // "" for a rule that only counts
	TargetArgs         []string     `json:"targetArgs,omitempty"`
	Packets            uint64       `json:"packets"`
	Bytes              uint64       `json:"bytes"`
	// Spec is the rule as iptables-save printed it, without the counters.
	Spec string `json:"spec"`
}

// Notrack reports whether the rule stops connection tracking
// (-j CT --notrack, or the older -j NOTRACK).
func (r Rule) Notrack() bool {
	return r.Target == "NOTRACK" || (r.Target == "CT" && slices.Contains(r.TargetArgs, "--notrack"))
}

// SourceNAT reports whether the rule rewrites source addresses
// (MASQUERADE or SNAT).
func (r Rule) SourceNAT() bool { return r.Target == "MASQUERADE" || r.Target == "SNAT" }

// BackendRead says what reading one backend and family gave.
type BackendRead struct {
	Backend Backend `json:"backend"`
	Family  string  `json:"family"`
	// Command is the save command that was run.
	Command string `json:"command"`
	// Read is false when the node has no such command, or it failed;
	// Error then says which.
	Read  bool   `json:"read"`
	Error string `json:"error,omitempty"`
	// Rules counts the rules per table ("raw": 4, "nat": 7, ...).
	Rules map[string]int `json:"rules,omitempty"`
}

// IPTables is every iptables rule of the node, from both backends and both
// families, and what was read.
type IPTables struct {
	Rules []Rule        `json:"rules"`
	Reads []BackendRead `json:"reads"`
}

// Chain returns the rules of one table and chain, in every backend.
func (t IPTables) Chain(table, chain string) []Rule {
	var out []Rule
	for _, r := range t.Rules {
		if r.Table == table && r.Chain == chain {
			out = append(out, r)
		}
	}
	return out
}

// NotrackRule is a rule that skips connection tracking, with the CIDR it
// covers and which side of the packet it matches.
type NotrackRule struct {
	CIDR netip.Prefix `json:"cidr"`
	// Matches is "source" or "destination" ("" when the rule has no
	// address match and covers all traffic).
	Matches string `json:"matches"`
	Rule
}

// Notrack returns the rules that skip conntrack.
func (t IPTables) Notrack() []NotrackRule {
	var out []NotrackRule
	for _, r := range t.Rules {
		if !r.Notrack() {
			continue
		}
		nr := NotrackRule{Rule: r}
		switch {
		case r.Source.IsValid() && !r.SourceNegated:
			nr.CIDR, nr.Matches = r.Source, "source"
		case r.Destination.IsValid() && !r.DestinationNegated:
			nr.CIDR, nr.Matches = r.Destination, "destination"
		}
		out = append(out, nr)
	}
	return out
}

// SourceNAT returns the nat table's MASQUERADE and SNAT rules.
func (t IPTables) SourceNAT() []Rule {
	var out []Rule
	for _, r := range t.Rules {
		if r.Table == "nat" && r.SourceNAT() {
			out = append(out, r)
		}
	}
	return out
}

// saveCommand is how one backend and family is read.
type saveCommand struct {
	backend Backend
	family  string
	argv    []string
}

var saveCommands = []saveCommand{
	{BackendLegacy, "ipv4", []string{"iptables-legacy-save", "-c"}},
	{BackendNFT, "ipv4", []string{"iptables-nft-save", "-c"}},
	{BackendLegacy, "ipv6", []string{"ip6tables-legacy-save", "-c"}},
	{BackendNFT, "ipv6", []string{"ip6tables-nft-save", "-c"}},
}

// IPTables reads the node's iptables rules from both backends and both
// families (iptables-legacy-save, iptables-nft-save, and the ip6tables
// ones). Where a node ships only `iptables-save`, its header says which
// backend it read. A backend that cannot be read is recorded in Reads, not
// returned as an error; an error means nothing could be read at all.
func (n *Node) IPTables(ctx context.Context) (IPTables, error) {
	reads := make([]BackendRead, len(saveCommands))
	rules := make([][]Rule, len(saveCommands))
	var wg sync.WaitGroup
	for i, c := range saveCommands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rules[i], reads[i] = n.readBackend(ctx, c)
		}()
	}
	wg.Wait()
	var out IPTables
	for i := range saveCommands {
		out.Rules = append(out.Rules, rules[i]...)
		out.Reads = append(out.Reads, reads[i])
	}
	for _, r := range out.Reads {
		if r.Read {
			return out, nil
		}
	}
	return out, fmt.Errorf("read iptables in %s: no backend could be read (%s)", n.name, readErrors(out.Reads))
}

func readErrors(reads []BackendRead) string {
	var parts []string
	for _, r := range reads {
		parts = append(parts, r.Command+": "+r.Error)
	}
	return strings.Join(parts, "; ")
}

func (n *Node) readBackend(ctx context.Context, c saveCommand) ([]Rule, BackendRead) {
	read := BackendRead{Backend: c.backend, Family: c.family, Command: strings.Join(c.argv, " ")}
	out, err := n.run.Run(ctx, c.argv)
	if errors.Is(err, ErrCommandNotFound) {
		// A node with a single iptables-save (Alpine, some distributions).
		plain := []string{"iptables-save", "-c"}
		if c.family == "ipv6" {
			plain[0] = "ip6tables-save"
		}
		if plainOut, plainErr := n.run.Run(ctx, plain); plainErr == nil && saveBackend(plainOut) == c.backend {
			read.Command, out, err = strings.Join(plain, " "), plainOut, nil
		}
	}
	if err != nil {
		read.Error = err.Error()
		return nil, read
	}
	rules, err := parseIPTablesSave(out, c.backend, c.family)
	if err != nil {
		read.Error = err.Error()
		return nil, read
	}
	read.Read = true
	read.Rules = map[string]int{}
	for _, r := range rules {
		read.Rules[r.Table]++
	}
	return rules, read
}

// saveBackend tells from iptables-save's header which backend it read:
// "# Generated by iptables-nft-save v1.8.9 (nf_tables) on ...".
func saveBackend(out []byte) Backend {
	if bytes.Contains(out, []byte("(nf_tables)")) {
		return BackendNFT
	}
	return BackendLegacy
}

// parseIPTablesSave reads `iptables-save -c` output.
func parseIPTablesSave(out []byte, backend Backend, family string) ([]Rule, error) {
	var rules []Rule
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || line == "COMMIT" || strings.HasPrefix(line, ":"):
			continue
		case strings.HasPrefix(line, "*"):
			table = line[1:]
			continue
		}
		r, err := parseRule(line)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", table, err)
		}
		r.Backend, r.Family, r.Table = backend, family, table
		rules = append(rules, r)
	}
	return rules, sc.Err()
}

// parseRule reads one "[pkts:bytes] -A CHAIN ..." line.
func parseRule(line string) (Rule, error) {
	var r Rule
	if strings.HasPrefix(line, "[") {
		end := strings.IndexByte(line, ']')
		if end < 0 {
			return r, fmt.Errorf("rule %q: unterminated counters", line)
		}
		pkts, bytesText, ok := strings.Cut(line[1:end], ":")
		var err1, err2 error
		r.Packets, err1 = strconv.ParseUint(pkts, 10, 64)
		r.Bytes, err2 = strconv.ParseUint(bytesText, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return r, fmt.Errorf("rule %q: bad counters", line)
		}
		line = strings.TrimSpace(line[end+1:])
	}
	r.Spec = line
	args, err := splitShell(line)
	if err != nil {
		return r, fmt.Errorf("rule %q: %w", line, err)
	}
	negate := false
	for i := 0; i < len(args); i++ {
		next := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch a := args[i]; a {
		case "!":
			negate = true
			continue
		case "-A":
			r.Chain = next()
		case "-s", "--source":
			r.Source, err = parsePrefix(next())
			r.SourceNegated = negate
		case "-d", "--destination":
			r.Destination, err = parsePrefix(next())
			r.DestinationNegated = negate
		case "-i":
			r.InInterface = negation(negate) + next()
		case "-o":
			r.OutInterface = negation(negate) + next()
		case "-p":
			r.Protocol = negation(negate) + next()
		case "--comment":
			r.Comment = next()
		case "-j", "-g":
			r.Target = next()
			r.TargetArgs = append([]string(nil), args[i+1:]...)
			i = len(args)
		}
		if err != nil {
			return r, fmt.Errorf("rule %q: %w", line, err)
		}
		negate = false
	}
	if r.Chain == "" {
		return r, fmt.Errorf("rule %q: no -A CHAIN", line)
	}
	return r, nil
}

func negation(neg bool) string {
	if neg {
		return "!"
	}
	return ""
}

// parsePrefix reads "10.0.0.0/8" or a bare address.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("address %q: %w", s, err)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// splitShell splits a line the way iptables-save quotes it: words separated
// by spaces, double quotes around words with spaces, backslash escapes.
func splitShell(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == '"':
			quoted = !quoted
			inWord = true
		case (c == ' ' || c == '\t') && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
