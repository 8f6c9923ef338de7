package report

import (
	"fmt"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// Phases of an upgrade run (--upgrade-from): the profile's checks before
// and after `helm upgrade`, and the verdicts on the upgrade itself
// (tunings still active, agents healthy, long-lived connections kept).
const (
	PhaseBefore  = "before-upgrade"
	PhaseAfter   = "after-upgrade"
	PhaseUpgrade = "upgrade"
)

// column names a verdict's column in the summary: the profile, and its
// phase when it has one ("seed-part8 (after-upgrade)").
func column(v verdict.Verdict) string {
	if v.Phase == "" {
		return v.Profile
	}
	return v.Profile + " (" + v.Phase + ")"
}

// UpgradePair is one check of one profile before and after the upgrade.
type UpgradePair struct {
	Profile, Check string
	Before, After  *verdict.Verdict
}

// Regressed reports a check that passed before the upgrade and does not
// after it (a tuning the upgrade switched off, or a check that can no
// longer run).
func (p UpgradePair) Regressed() bool {
	return p.Before != nil && p.Before.Result == verdict.Pass && p.Before.Met() &&
		(p.After == nil || p.After.Result != verdict.Pass || !p.After.Met())
}

// UpgradePairs matches every check of an upgrade run before and after, per
// profile, in the order the checks first ran.
func UpgradePairs(vs []verdict.Verdict) []UpgradePair {
	var out []UpgradePair
	index := map[string]int{}
	for i := range vs {
		v := &vs[i]
		if v.Phase != PhaseBefore && v.Phase != PhaseAfter {
			continue
		}
		key := v.Profile + "\x00" + v.Check
		j, ok := index[key]
		if !ok {
			j = len(out)
			index[key] = j
			out = append(out, UpgradePair{Profile: v.Profile, Check: v.Check})
		}
		if v.Phase == PhaseBefore {
			out[j].Before = v
		} else {
			out[j].After = v
		}
	}
	return out
}

// writeUpgrade writes the before/after table of every profile of an
// upgrade run, and the upgrade's own verdicts; nothing for other runs.
func writeUpgrade(b *strings.Builder, vs []verdict.Verdict) {
	pairs := UpgradePairs(vs)
	var own []verdict.Verdict
	for _, v := range vs {
		if v.Phase == PhaseUpgrade {
			own = append(own, v)
		}
	}
	if len(pairs) == 0 && len(own) == 0 {
		return
	}
	b.WriteString("## Upgrade: before and after\n\n")
	profile := ""
	for _, p := range pairs {
		if p.Profile != profile {
			if profile != "" {
				b.WriteString("\n")
			}
			profile = p.Profile
			fmt.Fprintf(b, "### %s\n\n| check | before upgrade | after upgrade | |\n|---|---|---|---|\n", p.Profile)
		}
		before, after := "not run", "not run"
		if p.Before != nil {
			before = cell(*p.Before)
		}
		if p.After != nil {
			after = cell(*p.After)
		}
		note := ""
		if p.Regressed() {
			note = "**regressed**"
			if p.After != nil {
				note += ": " + p.After.Reason
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", p.Check, before, after, note)
	}
	if len(own) > 0 {
		b.WriteString("\n| profile | upgrade check | verdict | reason |\n|---|---|---|---|\n")
		for _, v := range own {
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", v.Profile, v.Check, cell(v), strings.ReplaceAll(v.Reason, "|", "\\|"))
		}
	}
	b.WriteString("\n")
}
