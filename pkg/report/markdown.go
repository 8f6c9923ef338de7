package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// cell renders one verdict for the summary table.
func cell(v verdict.Verdict) string {
	switch {
	case v.Result == verdict.Skip:
		return "SKIP"
	case v.Error != "":
		return "**ERROR (not measured)**"
	case v.Expect == verdict.ExpectFail && v.Result == verdict.Fail:
		return "FAIL (expected)"
	case v.Expect == verdict.ExpectFail:
		return "**PASS (FAIL expected)**"
	case v.Result == verdict.Fail:
		return "**FAIL**"
	}
	return "PASS"
}

// Markdown renders the summary: totals, the profile x check table, then every
// non-PASS verdict and every mechanism credit with its reason.
func Markdown(run Run, profiles []Profile, vs []verdict.Verdict) string {
	var b strings.Builder
	t := Count(vs)
	fmt.Fprintf(&b, "# tunedcilium run %s\n\n", run.ID)
	fmt.Fprintf(&b, "Provider %s, kernel %s, Cilium %s", orDash(run.Provider), orDash(run.Kernel), orDash(run.CiliumVersion))
	if run.Images != "" {
		fmt.Fprintf(&b, ", images %s", run.Images)
	}
	fmt.Fprintf(&b, ".\n\n")
	status := "all expectations met"
	if !t.OK() {
		status = "**expectations NOT met**"
	}
	fmt.Fprintf(&b, "%d PASS, %d FAIL, %d FAIL as expected (negative controls), %d PASS where FAIL was expected, %d SKIP: %s.\n\n",
		t.Pass, t.Fail, t.ExpectedFail, t.UnexpectedPass, t.Skip, status)

	var names []string
	seen := map[string]bool{}
	for _, v := range vs {
		if !seen[column(v)] {
			seen[column(v)] = true
			names = append(names, column(v))
		}
	}
	var checks []string
	seenCheck := map[string]bool{}
	byCell := map[string]verdict.Verdict{}
	for _, v := range vs {
		if !seenCheck[v.Check] {
			seenCheck[v.Check] = true
			checks = append(checks, v.Check)
		}
		byCell[column(v)+"\x00"+v.Check] = v
	}
	if len(vs) > 0 {
		b.WriteString("| check |")
		for _, n := range names {
			b.WriteString(" " + n + " |")
		}
		b.WriteString("\n|---|")
		for range names {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, c := range checks {
			b.WriteString("| " + c + " |")
			for _, n := range names {
				v, ok := byCell[n+"\x00"+c]
				if !ok {
					b.WriteString(" |")
					continue
				}
				b.WriteString(" " + cell(v) + " |")
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	for _, p := range profiles {
		if p.Error != "" {
			fmt.Fprintf(&b, "- **%s did not reach its checks**: %s\n", p.Name, p.Error)
		}
	}

	writeUpgrade(&b, vs)

	b.WriteString("## Verdicts\n\n")
	for _, v := range vs {
		fmt.Fprintf(&b, "- `%s` %s: **%s**", column(v), v.Check, cell(v))
		if v.Mechanism != "" {
			fmt.Fprintf(&b, " (mechanism: %s)", v.Mechanism)
		}
		fmt.Fprintf(&b, " %s\n", v.Reason)
		for _, f := range v.Fallbacks {
			fmt.Fprintf(&b, "  - agent log: `%s`\n", f)
		}
	}

	if len(profiles) > 0 {
		b.WriteString("\n## Timings\n\n| profile | cluster | step | duration |\n|---|---|---|---|\n")
		for _, p := range profiles {
			cl := p.Cluster
			if p.Reused {
				cl += " (reused)"
			}
			for _, s := range p.Steps {
				fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", p.Name, cl, s.Name, s.Duration.Round(100e6))
			}
		}
	}
	return b.String()
}

// Checklist prints the end-of-run table a terminal user reads: one line per
// verdict, grouped by profile.
func Checklist(w io.Writer, vs []verdict.Verdict) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tCHECK\tVERDICT\tMECHANISM\tREASON")
	sorted := append([]verdict.Verdict(nil), vs...)
	sortVerdicts(sorted)
	for _, v := range sorted {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", column(v), v.Check, strings.ReplaceAll(cell(v), "*", ""), orDash(v.Mechanism), v.Reason)
	}
	return tw.Flush()
}

// ProfileNames lists profiles in first-seen order.
func ProfileNames(vs []verdict.Verdict) []string {
	seen := map[string]int{}
	for i, v := range vs {
		if _, ok := seen[v.Profile]; !ok {
			seen[v.Profile] = i
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return seen[names[i]] < seen[names[j]] })
	return names
}
