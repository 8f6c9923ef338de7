package probe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
)

// CountingRuleSpec describes an iptables rule that only counts: it matches
// some traffic at a netfilter hook and changes nothing. Tests install one
// to show that pod traffic did (or did not) pass a hook, e.g. FORWARD for
// BPF host routing.
type CountingRuleSpec struct {
	// Table defaults to "filter".
	Table string
	// Chain is required, e.g. "FORWARD".
	Chain string
	// Source and Destination restrict the match (zero: any). When both are
	// set they must be of one family; their family picks iptables or
	// ip6tables (IPv4 when neither is set).
	Source, Destination netip.Prefix
	// Backend is where to install it; empty picks the backend that already
	// holds more of the node's rules of that family (nft on a tie).
	Backend Backend
}

// CountingRule is an installed counting rule. Remove it when done (tests:
// t.Cleanup right after installing).
type CountingRule struct {
	node    *Node
	Backend Backend
	Family  string
	Table   string
	Chain   string
	// Comment is unique to this rule ("tunedcilium-count-<hex>").
	Comment string
	match   []string
	removed bool
}

// InstallCountingRule inserts a counting rule at the top of the chain, so
// that no earlier verdict hides traffic from it.
func (n *Node) InstallCountingRule(ctx context.Context, spec CountingRuleSpec) (*CountingRule, error) {
	if spec.Chain == "" {
		return nil, errors.New("counting rule: no chain given (e.g. FORWARD)")
	}
	if spec.Table == "" {
		spec.Table = "filter"
	}
	family := "ipv4"
	for _, p := range []netip.Prefix{spec.Source, spec.Destination} {
		if p.IsValid() && p.Addr().Is6() {
			family = "ipv6"
		}
	}
	if spec.Source.IsValid() && spec.Destination.IsValid() && spec.Source.Addr().Is4() != spec.Destination.Addr().Is4() {
		return nil, fmt.Errorf("counting rule: source %s and destination %s are of different families", spec.Source, spec.Destination)
	}
	backend := spec.Backend
	if backend == "" {
		var err error
		if backend, err = n.busiestBackend(ctx, family); err != nil {
			return nil, err
		}
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("counting rule: %w", err)
	}
	c := &CountingRule{node: n, Backend: backend, Family: family, Table: spec.Table, Chain: spec.Chain,
		Comment: "tunedcilium-count-" + hex.EncodeToString(id[:])}
	if spec.Source.IsValid() {
		c.match = append(c.match, "-s", spec.Source.String())
	}
	if spec.Destination.IsValid() {
		c.match = append(c.match, "-d", spec.Destination.String())
	}
	c.match = append(c.match, "-m", "comment", "--comment", c.Comment)
	argv := append([]string{c.binary(), "-w", "-t", c.Table, "-I", c.Chain, "1"}, c.match...)
	if _, err := n.run.Run(ctx, argv); err != nil {
		return nil, fmt.Errorf("install counting rule in %s %s/%s of %s: %w", backend, c.Table, c.Chain, n.name, err)
	}
	return c, nil
}

func (c *CountingRule) binary() string {
	prefix := "iptables-"
	if c.Family == "ipv6" {
		prefix = "ip6tables-"
	}
	return prefix + string(c.Backend)
}

// busiestBackend picks the backend holding more of the node's rules.
func (n *Node) busiestBackend(ctx context.Context, family string) (Backend, error) {
	t, err := n.IPTables(ctx)
	if err != nil {
		return "", err
	}
	count := map[Backend]int{}
	for _, r := range t.Rules {
		if r.Family == family {
			count[r.Backend]++
		}
	}
	if count[BackendLegacy] > count[BackendNFT] {
		return BackendLegacy, nil
	}
	return BackendNFT, nil
}

// Read returns the installed rule with its current packet and byte counters.
func (c *CountingRule) Read(ctx context.Context) (Rule, error) {
	for _, sc := range saveCommands {
		if sc.backend != c.Backend || sc.family != c.Family {
			continue
		}
		argv := append(append([]string(nil), sc.argv...), "-t", c.Table)
		out, err := c.node.run.Run(ctx, argv)
		if err != nil {
			return Rule{}, fmt.Errorf("read counting rule %s in %s: %w", c.Comment, c.node.name, err)
		}
		rules, err := parseIPTablesSave(out, c.Backend, c.Family)
		if err != nil {
			return Rule{}, fmt.Errorf("read counting rule %s in %s: %w", c.Comment, c.node.name, err)
		}
		for _, r := range rules {
			if r.Comment == c.Comment && r.Chain == c.Chain {
				return r, nil
			}
		}
	}
	return Rule{}, fmt.Errorf("counting rule %s is not in %s %s/%s of %s", c.Comment, c.Backend, c.Table, c.Chain, c.node.name)
}

// Packets returns the rule's packet counter.
func (c *CountingRule) Packets(ctx context.Context) (uint64, error) {
	r, err := c.Read(ctx)
	return r.Packets, err
}

// Remove deletes the rule. Removing twice is a no-op.
func (c *CountingRule) Remove(ctx context.Context) error {
	if c.removed {
		return nil
	}
	argv := append([]string{c.binary(), "-w", "-t", c.Table, "-D", c.Chain}, c.match...)
	if _, err := c.node.run.Run(ctx, argv); err != nil {
		return fmt.Errorf("remove counting rule %s from %s/%s of %s: %w", c.Comment, c.Table, c.Chain, c.node.name, err)
	}
	c.removed = true
	return nil
}
