package checks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// Decision is what a pure decision function says about its evidence.
type Decision struct {
	Result verdict.Result
	Reason string
	// NotMeasured is set when the evidence could not be read (a node's
	// rules, devices or maps unreadable): the verdict is then an error that
	// meets no expectation, never a passing negative control.
	NotMeasured string
}

func pass(format string, args ...any) Decision {
	return Decision{Result: verdict.Pass, Reason: fmt.Sprintf(format, args...)}
}

func fail(format string, args ...any) Decision {
	return Decision{Result: verdict.Fail, Reason: fmt.Sprintf(format, args...)}
}

// unmeasured: the evidence could not be read on some node(s).
func unmeasured(what string, unread []string) Decision {
	msg := what + ": " + strings.Join(unread, "; ")
	return Decision{Result: verdict.Fail, Reason: "not measured: " + msg, NotMeasured: msg}
}

func skip(format string, args ...any) Decision {
	return Decision{Result: verdict.Skip, Reason: fmt.Sprintf(format, args...)}
}

// outcome is a check's decision with the evidence it was made from.
type outcome struct {
	Decision
	Evidence map[string]any
}

// checkFunc gathers a check's evidence and decides.
type checkFunc func(ctx context.Context, env *Env, c tuning.Check) outcome

// errorOutcome turns a failure to gather evidence into a verdict: a check
// that could not measure did not pass. The reason says it was not measured,
// and evidence carries "error", so that a negative control is never met
// silently by a broken measurement.
func errorOutcome(ev map[string]any, err error) outcome {
	if ev == nil {
		ev = map[string]any{}
	}
	ev["error"] = err.Error()
	return outcome{Decision: unmeasured("measurement failed", []string{err.Error()}), Evidence: ev}
}

// skipOutcome: the check cannot run here.
func skipOutcome(ev map[string]any, format string, args ...any) outcome {
	return outcome{Decision: skip(format, args...), Evidence: ev}
}

// Names lists the implemented checks, sorted.
func Names() []string {
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Implemented reports whether a check has an implementation.
func Implemented(name string) bool {
	_, ok := registry[name]
	return ok
}

// Credited is the crediting step every PASS goes through: the first
// mechanism of the check (in the catalog's precedence order) that the nodes
// show active is credited, the later active ones are masked. A PASS that no
// active mechanism explains is turned into a FAIL: the effect was seen but
// cannot be credited to the tuning the check proves.
type Credited struct {
	Decision
	Mechanism tuning.Key
	Masked    []tuning.Key
}

// Credit applies the crediting rule to a decision.
func Credit(c tuning.Check, a *Active, d Decision) Credited {
	out := Credited{Decision: d}
	if d.Result != verdict.Pass || len(c.Mechanisms) == 0 {
		return out
	}
	credited, masked, ok := c.Credit(a.Active)
	if !ok {
		var why []string
		for _, m := range c.Mechanisms {
			why = append(why, a.Why(m))
		}
		out.Decision = fail("%s, but no option of this check is active on the nodes (%s): nothing to credit", d.Reason, strings.Join(why, "; "))
		return out
	}
	out.Mechanism = credited
	out.Masked = masked
	if len(masked) > 0 {
		var names []string
		for _, m := range masked {
			names = append(names, string(m))
		}
		out.Reason += fmt.Sprintf(" (credited to %s; %s also active, masked: this evidence cannot tell it apart)", credited, strings.Join(names, ", "))
	}
	return out
}

// Run runs one planned check and returns its verdict. A planned skip
// returns SKIP with its reason; a check that cannot run here SKIPs with a
// precise reason; nothing PASSes without evidence measured on the nodes.
func Run(ctx context.Context, env *Env, pc plan.PlannedCheck) (v verdict.Verdict) {
	start := time.Now()
	v = verdict.Verdict{Profile: env.Profile, Option: pc.Option, Check: pc.Check, Expect: pc.Expect}
	defer func() {
		v.Duration = time.Since(start)
		env.logf("check %s: %s", pc.Check, v.String())
	}()
	if pc.Skip != "" {
		v.Result, v.Reason = verdict.Skip, pc.Skip
		return v
	}
	c, ok := tuning.LookupCheck(pc.Check)
	if !ok {
		v.Result, v.Reason = verdict.Fail, fmt.Sprintf("unknown check %q: not in the catalog", pc.Check)
		v.Error = v.Reason
		return v
	}
	impl, ok := registry[pc.Check]
	if !ok {
		v.Result, v.Reason = verdict.Fail, fmt.Sprintf("check %q has no implementation", pc.Check)
		v.Error = v.Reason
		return v
	}
	env.logf("check %s: running (%s, expect %s)", pc.Check, c.Title, pc.Expect)
	cctx, cancel := context.WithTimeout(ctx, env.Settings.CheckTimeout)
	defer cancel()
	o := safeRun(cctx, env, c, impl)
	if errors.Is(cctx.Err(), context.DeadlineExceeded) && o.Result == verdict.Pass {
		o = errorOutcome(o.Evidence, fmt.Errorf("timed out after %s", env.Settings.CheckTimeout))
	}
	active := env.Active(ctx)
	cr := Credit(c, active, o.Decision)
	v.Result, v.Reason = cr.Result, cr.Reason
	v.Mechanism = string(cr.Mechanism)
	v.Evidence = o.Evidence
	if v.Evidence == nil {
		v.Evidence = map[string]any{}
	}
	v.Error = cr.NotMeasured
	if e, ok := v.Evidence["error"]; ok && v.Error == "" {
		v.Error = fmt.Sprint(e)
	}
	if len(cr.Masked) > 0 {
		var m []string
		for _, k := range cr.Masked {
			m = append(m, string(k))
		}
		v.Evidence["masked"] = m
	}
	for _, m := range c.Mechanisms {
		v.Evidence["active."+string(m)] = active.Why(m)
	}
	concerned := c.Mechanisms
	if pc.Option != "" {
		concerned = append(slices.Clone(concerned), tuning.Key(pc.Option))
	}
	v.Fallbacks = append(v.Fallbacks, env.fallbacks(ctx, concerned)...)
	return v
}

// safeRun runs a check, turning a panic into a FAIL that says so.
func safeRun(ctx context.Context, env *Env, c tuning.Check, impl checkFunc) (o outcome) {
	defer func() {
		if r := recover(); r != nil {
			o = errorOutcome(nil, fmt.Errorf("check panicked: %v", r))
		}
	}()
	return impl(ctx, env, c)
}
