// Package profile reads tuning profiles (strict YAML: an unknown field is an
// error) and expands the matrix of profiles x kernels x providers.
package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/tunedcilium/tunedcilium/fixtures"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// Profile is a named set of tunings, as in fixtures/profiles/NAME.yaml.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Tunings are catalog keys.
	Tunings []string `json:"tunings"`
	// Values are extra Helm values, applied after the tunings' values. Nested
	// maps and dotted keys ("bpf.hostLegacyRouting") both work.
	Values map[string]any `json:"values,omitempty"`
	// NegativeControls are checks run here that must FAIL because the tunings
	// they prove are off.
	NegativeControls []string `json:"negativeControls,omitempty"`
}

// Keys returns the profile's tunings as catalog keys.
func (p Profile) Keys() []tuning.Key {
	keys := make([]tuning.Key, len(p.Tunings))
	for i, t := range p.Tunings {
		keys[i] = tuning.Key(t)
	}
	return keys
}

// FlatValues returns the extra values as dotted paths.
func (p Profile) FlatValues() map[string]any { return plan.Flatten(p.Values) }

// Request turns the profile into a planner request for a platform.
func (p Profile) Request(base plan.Request) plan.Request {
	base.Options = p.Keys()
	base.Values = p.FlatValues()
	base.NegativeControls = p.NegativeControls
	return base
}

// Parse reads a profile strictly and validates its tunings and checks.
func Parse(data []byte, source string) (Profile, error) {
	var p Profile
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return Profile{}, fmt.Errorf("profile %s: %w", source, err)
	}
	if p.Name == "" {
		return Profile{}, fmt.Errorf("profile %s: field \"name\" is required", source)
	}
	for _, t := range p.Tunings {
		if _, err := tuning.Parse(t); err != nil {
			return Profile{}, fmt.Errorf("profile %s: %w", source, err)
		}
	}
	for _, c := range p.NegativeControls {
		if _, err := tuning.ParseCheck(c); err != nil {
			return Profile{}, fmt.Errorf("profile %s: negativeControls: %w", source, err)
		}
	}
	return p, nil
}

// Load reads a profile by name (one of the built-in profiles) or by path to
// a YAML file.
func Load(nameOrPath string) (Profile, error) {
	if strings.ContainsAny(nameOrPath, "/\\") || strings.HasSuffix(nameOrPath, ".yaml") || strings.HasSuffix(nameOrPath, ".yml") {
		data, err := os.ReadFile(nameOrPath)
		if err != nil {
			return Profile{}, fmt.Errorf("profile file %s: %w", nameOrPath, err)
		}
		return Parse(data, nameOrPath)
	}
	data, err := fs.ReadFile(fixtures.Profiles, path.Join("profiles", nameOrPath+".yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		return Profile{}, fmt.Errorf("unknown profile %q: built-in profiles are %s, or pass a path to a YAML file", nameOrPath, strings.Join(Names(), ", "))
	}
	if err != nil {
		return Profile{}, err
	}
	return Parse(data, nameOrPath)
}

// LoadAll loads a comma-separated or repeated list of profiles.
func LoadAll(names []string) ([]Profile, error) {
	var out []Profile
	seen := map[string]bool{}
	for _, n := range names {
		for _, one := range strings.Split(n, ",") {
			one = strings.TrimSpace(one)
			if one == "" {
				continue
			}
			p, err := Load(one)
			if err != nil {
				return nil, err
			}
			if seen[p.Name] {
				return nil, fmt.Errorf("profile %q given twice", p.Name)
			}
			seen[p.Name] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// Names lists the built-in profiles.
func Names() []string {
	entries, _ := fs.ReadDir(fixtures.Profiles, "profiles")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Builtin loads every built-in profile.
func Builtin() ([]Profile, error) { return LoadAll(Names()) }
