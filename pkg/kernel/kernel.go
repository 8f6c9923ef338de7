// Package kernel holds Linux kernel versions: parsing "X.Y[.Z]", comparing,
// and requirements that accept backports ("4.19.57, 5.1.16 or 5.2").
package kernel

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a kernel release, major.minor.patch.
type Version struct {
	Major, Minor, Patch int
}

// Parse reads "6.1", "5.15.0", "6.18.44-fc-v595" or "v6.6". A distribution
// suffix after the numbers ("-generic", "+", "-rc1") is ignored.
func Parse(s string) (Version, error) {
	in := s
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9') && r != '.' }); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("kernel version %q: want MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 6.1 or 5.15.0", in)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("kernel version %q: %q is not a number; want e.g. 6.1 or 5.15.0", in, p)
		}
		n[i] = v
	}
	if n[0] < 2 || n[0] > 99 {
		return Version{}, fmt.Errorf("kernel version %q: major version %d is not a Linux version; want e.g. 6.1", in, n[0])
	}
	return Version{n[0], n[1], n[2]}, nil
}

// MustParse is Parse for constants known to be valid.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Compare returns -1, 0 or +1.
func (v Version) Compare(o Version) int {
	for _, d := range [3]int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	return 0
}

// AtLeast reports v >= o.
func (v Version) AtLeast(o Version) bool { return v.Compare(o) >= 0 }

// IsZero reports an unset version.
func (v Version) IsZero() bool { return v == Version{} }

// Requirement is a minimum kernel, possibly met by stable backports: the
// versions are ascending, every one but the last is the first patch release
// of its major.minor branch that carries the feature, and the last is the
// mainline release from which on every kernel has it. "4.19.57, 5.1.16, 5.2"
// accepts 4.19.57+, 5.1.16+ and anything from 5.2 on, but not 5.0.
type Requirement []Version

// Min is a plain minimum kernel.
func Min(s string) Requirement { return Requirement{MustParse(s)} }

// Backports is a requirement met by any of the listed stable branches.
func Backports(vs ...string) Requirement {
	r := make(Requirement, len(vs))
	for i, s := range vs {
		r[i] = MustParse(s)
	}
	return r
}

// MetBy reports whether kernel k satisfies the requirement. An empty
// requirement is met by every kernel.
func (r Requirement) MetBy(k Version) bool {
	if len(r) == 0 {
		return true
	}
	last := r[len(r)-1]
	if k.AtLeast(last) {
		return true
	}
	for _, b := range r[:len(r)-1] {
		if k.Major == b.Major && k.Minor == b.Minor && k.Patch >= b.Patch {
			return true
		}
	}
	return false
}

// String renders "4.19.57 / 5.1.16 / 5.2" or "5.10".
func (r Requirement) String() string {
	if len(r) == 0 {
		return "any"
	}
	s := make([]string, len(r))
	for i, v := range r {
		if v.Patch == 0 {
			s[i] = fmt.Sprintf("%d.%d", v.Major, v.Minor)
		} else {
			s[i] = v.String()
		}
	}
	return strings.Join(s, " / ")
}
