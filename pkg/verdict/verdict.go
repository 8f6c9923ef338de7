// Package verdict holds the outcome of one check: PASS, FAIL or SKIP, the
// reason, the mechanism it credits and the evidence measured on the node.
package verdict

import (
	"fmt"
	"time"
)

// Result is the outcome of a check.
type Result string

const (
	Pass Result = "PASS"
	Fail Result = "FAIL"
	Skip Result = "SKIP"
)

// Expectation says what a profile expects of a check. Negative controls
// expect FAIL: the tuning is off, so the behaviour must not be there.
type Expectation string

const (
	ExpectPass Expectation = "pass"
	ExpectFail Expectation = "fail"
)

// Verdict is one check's outcome on one profile.
type Verdict struct {
	Profile string `json:"profile"`
	// Option is the catalog key the check belongs to ("" for cluster-wide checks
	// such as connectivity).
	Option string `json:"option,omitempty"`
	Check  string `json:"check"`
	Result Result `json:"verdict"`
	// Expect is what the profile expected; a FAIL that was expected (a negative
	// control) does not fail the run.
	Expect Expectation `json:"expect"`
	// Reason says in one line why the result is what it is.
	Reason string `json:"reason"`
	// Mechanism names the option whose effect produced the evidence, e.g.
	// "bpf-host-routing" when conntrack stayed flat because pod traffic never
	// reached netfilter. Empty when the check measured no mechanism (SKIP).
	Mechanism string `json:"mechanism,omitempty"`
	// Evidence is what was measured, keyed by what it is ("conntrackDelta",
	// "status.routing.intra-host-routing-mode", ...).
	Evidence map[string]any `json:"evidence,omitempty"`
	// Fallbacks are agent log lines that say a tuning fell back.
	Fallbacks []string      `json:"fallbacks,omitempty"`
	Duration  time.Duration `json:"duration"`
	// Phase places the verdict in a run that checks a profile more than
	// once: "before-upgrade" and "after-upgrade" (--upgrade-from), or
	// "upgrade" for what the upgrade itself is judged on. "" otherwise.
	Phase string `json:"phase,omitempty"`
	// Error is set when the check could not measure (a probe, exec or
	// traffic step failed). Such a verdict is a FAIL that meets no
	// expectation: a broken measurement is never a passing negative control.
	Error string `json:"error,omitempty"`
}

// Met reports whether the result is what the profile expected. A SKIP meets
// every expectation: it is reported, never counted as a pass or a failure. A
// check that could not measure (Error) meets none.
func (v Verdict) Met() bool {
	switch {
	case v.Result == Skip:
		return true
	case v.Error != "":
		return false
	}
	switch v.Result {
	case Pass:
		return v.Expect != ExpectFail
	default:
		return v.Expect == ExpectFail
	}
}

// String renders a verdict as one checklist line.
func (v Verdict) String() string {
	s := fmt.Sprintf("%s %s/%s: %s", v.Result, v.Profile, v.Check, v.Reason)
	if v.Phase != "" {
		s = fmt.Sprintf("%s %s/%s [%s]: %s", v.Result, v.Profile, v.Check, v.Phase, v.Reason)
	}
	if v.Expect == ExpectFail {
		s += " (negative control: FAIL expected)"
	}
	if v.Error != "" {
		s += " [not measured: the check could not run its measurement]"
	}
	if v.Mechanism != "" {
		s += " [mechanism: " + v.Mechanism + "]"
	}
	return s
}

// Passed, Failed and Skipped build verdicts; the caller fills profile,
// option, expectation and duration.
func Passed(check, mechanism, reason string, evidence map[string]any) Verdict {
	return Verdict{Check: check, Result: Pass, Mechanism: mechanism, Reason: reason, Evidence: evidence}
}

func Failed(check, reason string, evidence map[string]any) Verdict {
	return Verdict{Check: check, Result: Fail, Reason: reason, Evidence: evidence}
}

func Skipped(check, reason string) Verdict {
	return Verdict{Check: check, Result: Skip, Reason: reason}
}
