// Package cimatrix is the e2e workflow's matrix: the LVH kernel images the
// workflow boots (pinned in .github/kernels.yaml, copied from Cilium's own
// CI), and the rows the planner makes of them, one per kernel, each with
// the profiles that can run there and the options that SKIP there and why.
// The workflow's plan job prints them (`tunedcilium ci-matrix`), so no row
// and no skip is written down twice.
package cimatrix

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/tunedcilium/tunedcilium/pkg/profile"
)

// KernelsFile is where the repository pins the kernel images.
const KernelsFile = ".github/kernels.yaml"

// Pin is one kernel row's VM image.
type Pin struct {
	// Kernel is the row's name ("6.1", "rhel8.10").
	Kernel string `json:"kernel"`
	// Tag is the image tag ("6.1-20260907.012340").
	Tag string `json:"tag"`
}

// Pins is the kernels file.
type Pins struct {
	// Image is the LVH image repository (quay.io/lvh-images/kind).
	Image string `json:"image"`
	// Source says where the tags were copied from.
	Source  string            `json:"source"`
	Kernels map[string]string `json:"kernels"`
}

// ReadPins reads and checks a kernels file: every kernel parses as a kernel
// row and its tag starts with "<kernel>-" (so a key YAML read as a number,
// 6.10 as 6.1, cannot pass).
func ReadPins(path string) (Pins, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Pins{}, fmt.Errorf("kernels file: %w", err)
	}
	return ParsePins(data, path)
}

// ParsePins parses the kernels file's content; source names it in errors.
func ParsePins(data []byte, source string) (Pins, error) {
	var p Pins
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return Pins{}, fmt.Errorf("kernels file %s: %w", source, err)
	}
	if p.Image == "" {
		return Pins{}, fmt.Errorf("kernels file %s: \"image\" is empty: give the LVH image repository, e.g. quay.io/lvh-images/kind", source)
	}
	if len(p.Kernels) == 0 {
		return Pins{}, fmt.Errorf("kernels file %s: no kernels pinned", source)
	}
	for k, tag := range p.Kernels {
		if _, err := profile.ParsePlatform(k); err != nil {
			return Pins{}, fmt.Errorf("kernels file %s: kernel %q: %w", source, k, err)
		}
		if !strings.HasPrefix(tag, k+"-") {
			return Pins{}, fmt.Errorf("kernels file %s: kernel %q is pinned to tag %q, which is not a %s image: quote the key ('%s': '%s-DATE')", source, k, tag, k, k, k)
		}
	}
	return p, nil
}

// List returns the pins in row order: RHEL rows first, then by kernel
// version.
func (p Pins) List() []Pin {
	out := make([]Pin, 0, len(p.Kernels))
	for k, t := range p.Kernels {
		out = append(out, Pin{Kernel: k, Tag: t})
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := profile.ParsePlatform(out[i].Kernel)
		b, _ := profile.ParsePlatform(out[j].Kernel)
		ra, rb := strings.HasPrefix(a.Name, "rhel"), strings.HasPrefix(b.Name, "rhel")
		if ra != rb {
			return ra
		}
		if c := a.Kernel.Compare(b.Kernel); c != 0 {
			return c < 0
		}
		return a.Name < b.Name
	})
	return out
}

// Select keeps the named kernels (all when names is empty); an unknown name
// is an error that lists the pinned ones.
func (p Pins) Select(names []string) ([]Pin, error) {
	all := p.List()
	if len(names) == 0 {
		return all, nil
	}
	var out []Pin
	for _, n := range names {
		tag, ok := p.Kernels[n]
		if !ok {
			var have []string
			for _, x := range all {
				have = append(have, x.Kernel)
			}
			return nil, fmt.Errorf("kernel %q is not pinned in %s: pinned are %s", n, KernelsFile, strings.Join(have, ", "))
		}
		out = append(out, Pin{Kernel: n, Tag: tag})
	}
	return out, nil
}
