package repro

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Label keys the e2e features carry (features/features.go), and the
// option label of cluster-wide checks.
const (
	labelOption    = "option"
	labelProfile   = "profile"
	labelExpect    = "expect"
	clusterFeature = "cluster"
)

// Selects reports whether a check is an e2e assessment, which the replay
// can select alone; the upgrade's own verdicts and the host audit are not
// (replaying them reruns the profile).
func Selects(check string) bool {
	return !strings.HasPrefix(check, "upgrade.") && !strings.HasPrefix(check, "host.")
}

// ReplayCommand is the `go test` command, run from a tunedcilium checkout,
// that replays one failure of a bundle: only the bundle's profile (the
// profile file in the bundle, run as subtest TestTunedCilium/<profile>),
// only the feature of the check's option and expectation (--labels), and
// only that check's assessment ("<title> [<check>]", --assess), with the
// run's provider, Cilium version, chart and images. dir should be absolute:
// go test runs the suite from ./e2e.
func ReplayCommand(b Bundle, dir string, f Failure) []string {
	argv := []string{"go", "test", "./e2e/...", "-tags", "e2e", "-count=1", "-v", "-timeout", "120m",
		"-run", "^TestTunedCilium$/^" + regexp.QuoteMeta(b.Profile) + "$",
		"-args",
		"--profiles", filepath.Join(dir, ProfileFile),
		"--provider", b.Run.Provider,
		"--cilium-version", b.Run.CiliumVersion,
		"--images", b.Run.Images,
		"--report-dir", filepath.Join(dir, "replay"),
	}
	opt := func(flag, v string) {
		if v != "" {
			argv = append(argv, flag, v)
		}
	}
	opt("--cilium-chart", b.Run.CiliumChart)
	opt("--cilium-image", b.Run.CiliumImage)
	opt("--operator-image", b.Run.OperatorImage)
	opt("--workload-image", b.Run.WorkloadImage)
	opt("--node-image", b.Run.NodeImage)
	opt("--kubeconfig", b.Run.Kubeconfig)
	opt("--kube-context", b.Run.KubeContext)
	opt("--kernel-platform", b.Run.KernelPlatform)
	if b.Run.Nodes > 0 {
		opt("--nodes", strconv.Itoa(b.Run.Nodes))
	}
	if b.Run.Connections > 0 {
		opt("--connections", strconv.Itoa(b.Run.Connections))
		opt("--conntrack-bound", strconv.Itoa(b.Run.ConntrackBound))
	}
	if b.Run.MinGbps > 0 {
		opt("--min-gbps", strconv.FormatFloat(b.Run.MinGbps, 'g', -1, 64))
	}
	if b.Run.MaxSlowdownPct > 0 {
		opt("--max-slowdown", strconv.FormatFloat(b.Run.MaxSlowdownPct, 'g', -1, 64))
	}
	// A check that failed before or after an upgrade replays the upgrade.
	if f.Phase != "" || strings.HasPrefix(f.Check, "upgrade.") {
		opt("--upgrade-from", b.Run.UpgradeFrom)
	}
	if strings.HasPrefix(f.Check, "host.") {
		argv = append(argv, "--require-host-tuning")
	}
	if Selects(f.Check) {
		option := f.Option
		if option == "" {
			option = clusterFeature
		}
		expect := string(f.Expect)
		if expect == "" {
			expect = "pass"
		}
		argv = append(argv,
			"--labels", labelProfile+"="+b.Profile+","+labelOption+"="+option+","+labelExpect+"="+expect,
			"--assess", regexp.QuoteMeta("["+f.Check+"]")+"$")
	}
	return argv
}

// ShellLine renders argv as one shell command line.
func ShellLine(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

func shellQuote(s string) string {
	if s != "" && shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
