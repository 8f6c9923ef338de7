package cimatrix

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// Runners of a row.
const (
	// Hosted rows run on the CI runner's own kernel.
	Hosted = "hosted"
	// LVH rows boot a pinned kernel in a little-vm-helper VM.
	LVH = "lvh"
)

// Row is one job of the workflow: a kernel and the profiles run on it.
type Row struct {
	Name   string `json:"name"`
	Runner string `json:"runner"`
	// Kernel is the row's kernel: a pinned row's name ("6.1", "rhel8.10"),
	// or the release the runner reports.
	Kernel string `json:"kernel"`
	// Image is the LVH image tag ("" on the hosted row).
	Image string `json:"image,omitempty"`
	// KernelPlatform is passed as --kernel-platform where the kernel's
	// version alone would mislead the planner (RHEL 8.10's 4.18 carries the
	// backports Cilium counts as 5.10); "" elsewhere.
	KernelPlatform string `json:"kernelPlatform"`
	// Profiles are the profiles the row runs, comma-separated: every
	// profile asked for whose plan has no error here.
	Profiles string `json:"profiles"`
	// Skips are the options that SKIP on this kernel, per profile.
	Skips []Finding `json:"skips"`
	// Pruned are the profiles left out of the row, with the reason.
	Pruned []Finding `json:"pruned"`
}

// Finding is one skipped option or pruned profile of a row.
type Finding struct {
	Profile string `json:"profile"`
	Option  string `json:"option,omitempty"`
	Reason  string `json:"reason"`
}

// Rows plans every profile on every pinned kernel (kind nodes share the
// VM's kernel) and, when host is not nil, on the runner's own kernel.
func Rows(profiles []profile.Profile, pins []Pin, host *profile.Platform, cilium tuning.CiliumVersion) ([]Row, error) {
	var rows []Row
	if host != nil {
		r, err := row(profiles, *host, cilium)
		if err != nil {
			return nil, err
		}
		r.Name, r.Runner = Hosted, Hosted
		rows = append(rows, r)
	}
	for _, pin := range pins {
		pf, err := profile.ParsePlatform(pin.Kernel)
		if err != nil {
			return nil, fmt.Errorf("kernel row %s: %w", pin.Kernel, err)
		}
		r, err := row(profiles, pf, cilium)
		if err != nil {
			return nil, err
		}
		r.Name, r.Runner, r.Image = "kernel-"+pin.Kernel, LVH, pin.Tag
		if strings.HasPrefix(pin.Kernel, "rhel") {
			r.KernelPlatform = pin.Kernel
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func row(profiles []profile.Profile, pf profile.Platform, cilium tuning.CiliumVersion) (Row, error) {
	mrows, err := profile.Matrix(profiles, []profile.Platform{pf}, []string{plan.Kind}, cilium)
	if err != nil {
		return Row{}, err
	}
	r := Row{Kernel: pf.Name, Skips: []Finding{}, Pruned: []Finding{}}
	var run []string
	for _, m := range mrows {
		if m.Pruned != "" {
			r.Pruned = append(r.Pruned, Finding{Profile: m.Profile, Reason: m.Pruned})
			continue
		}
		run = append(run, m.Profile)
		for _, s := range m.Plan.Skips {
			r.Skips = append(r.Skips, Finding{Profile: m.Profile, Option: s.Option, Reason: s.Reason})
		}
	}
	r.Profiles = strings.Join(run, ",")
	return r, nil
}

// WriteGitHub writes the rows as GitHub step outputs: `hosted=` the hosted
// row (empty when there is none) and `lvh=` the LVH rows as a matrix
// ({"include":[...]}), each one line of JSON. Rows without a profile to
// run are left out.
func WriteGitHub(w io.Writer, rows []Row) error {
	hosted := ""
	lvh := struct {
		Include []Row `json:"include"`
	}{Include: []Row{}}
	for _, r := range rows {
		if r.Profiles == "" {
			continue
		}
		switch r.Runner {
		case Hosted:
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			hosted = string(b)
		case LVH:
			lvh.Include = append(lvh.Include, r)
		}
	}
	b, err := json.Marshal(lvh)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "hosted=%s\nlvh=%s\n", hosted, b)
	return err
}

// WriteMarkdown writes the rows as a table for the job summary.
func WriteMarkdown(w io.Writer, rows []Row) error {
	var b strings.Builder
	b.WriteString("## e2e matrix (from the planner)\n\n| row | kernel | image | profiles | skipped options | pruned profiles |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		image := r.Image
		if image == "" {
			image = "runner"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Name, r.Kernel, image,
			dash(strings.ReplaceAll(r.Profiles, ",", ", ")), dash(list(r.Skips)), dash(list(r.Pruned)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func list(fs []Finding) string {
	var s []string
	for _, f := range fs {
		if f.Option != "" {
			s = append(s, fmt.Sprintf("%s/%s: %s", f.Profile, f.Option, f.Reason))
		} else {
			s = append(s, fmt.Sprintf("%s: %s", f.Profile, f.Reason))
		}
	}
	return strings.Join(s, "<br>")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}
