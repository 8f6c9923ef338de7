package profile

import (
	"fmt"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// Platform is one kernel a matrix row runs on.
type Platform struct {
	// Name labels the kernel row ("6.1", "rhel8.10").
	Name   string         `json:"name"`
	Kernel kernel.Version `json:"-"`
	// KernelConfig, when known, lets the planner skip options whose kernel
	// support is not built (sch_fq, netkit).
	KernelConfig kernel.Config `json:"-"`
}

// ParsePlatform reads a kernel row: "6.1", "5.15.0", or "rhel8.10" (RHEL 8.10
// ships 4.18 with backports Cilium counts as 5.10-equivalent).
func ParsePlatform(s string) (Platform, error) {
	if strings.HasPrefix(s, "rhel8") {
		// Cilium documents RHEL 8.10's 4.18 as equivalent to 5.10.
		return Platform{Name: s, Kernel: kernel.MustParse("5.10")}, nil
	}
	v, err := kernel.Parse(s)
	if err != nil {
		return Platform{}, err
	}
	return Platform{Name: s, Kernel: v}, nil
}

// Row is one combination of profile, kernel and provider.
type Row struct {
	Profile  string     `json:"profile"`
	Kernel   string     `json:"kernel"`
	Provider string     `json:"provider"`
	Plan     *plan.Plan `json:"plan"`
	// Pruned says why the row will not run ("" when it runs).
	Pruned string `json:"pruned,omitempty"`
}

// Matrix expands profiles x kernels x providers. A row is pruned, with its
// reason, when its plan has errors or when every tuning of the profile is
// skipped on that platform; otherwise it runs, and its skipped options are
// reported as SKIPs.
func Matrix(profiles []Profile, platforms []Platform, providers []string, cilium tuning.CiliumVersion) ([]Row, error) {
	var rows []Row
	for _, prov := range providers {
		facts, err := plan.DefaultFacts(prov, "")
		if err != nil {
			return nil, err
		}
		for _, pf := range platforms {
			for _, p := range profiles {
				req := p.Request(plan.Request{Kernel: pf.Kernel, KernelConfig: pf.KernelConfig, CiliumVersion: cilium, Facts: facts})
				pl := plan.New(req)
				row := Row{Profile: p.Name, Kernel: pf.Name, Provider: prov, Plan: pl}
				switch {
				case len(pl.Errors) > 0:
					row.Pruned = "plan errors: " + findings(pl.Errors)
				case len(p.Tunings) > 0 && len(pl.Options) == 0:
					row.Pruned = "every tuning is skipped here: " + findings(pl.Skips)
				}
				rows = append(rows, row)
			}
		}
	}
	return rows, nil
}

func findings(fs []plan.Finding) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = fmt.Sprintf("%s: %s", f.Option, f.Reason)
	}
	return strings.Join(s, "; ")
}
