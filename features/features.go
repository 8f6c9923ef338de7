// Package features turns a profile's check plan into e2e-framework features
// that read like the checklist an operator would run: one feature per
// tuning, labelled with the option key and the profile, each assessment one
// check ("Assess: nf_conntrack stays flat for pod-to-pod traffic across
// nodes"). Negative controls get their own features, labelled expect=fail.
package features

import (
	"context"
	"fmt"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/run"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// Label keys every feature carries, for --labels / --skip-labels.
const (
	LabelOption  = "option"
	LabelProfile = "profile"
	LabelExpect  = "expect"
)

// group is one feature: the checks of one option with one expectation.
type group struct {
	option string
	expect verdict.Expectation
	checks []plan.PlannedCheck
}

// Groups orders a plan's checks into features: options in catalog order,
// cluster-wide checks last; within a feature, status before kernel before
// behaviour (the plan's order).
func Groups(p *plan.Plan) []group {
	var out []group
	index := map[string]int{}
	for _, pc := range p.CheckPlan {
		option := pc.Option
		if option == "" {
			option = "cluster"
		}
		key := option + "/" + string(pc.Expect)
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, group{option: option, expect: pc.Expect})
		}
		out[i].checks = append(out[i].checks, pc)
	}
	return out
}

// For builds the features of a stage.
func For(s *run.Suite, st *run.Stage) []types.Feature {
	var fs []types.Feature
	for _, g := range Groups(st.Plan) {
		name := g.option
		if o, ok := tuning.Lookup(tuning.Key(g.option)); ok {
			name = fmt.Sprintf("%s: %s", g.option, o.Title)
		}
		if g.expect == verdict.ExpectFail {
			name = "negative control, " + g.option + " is off: its checks must FAIL"
		}
		b := features.New(name).
			WithLabel(LabelOption, g.option).
			WithLabel(LabelProfile, st.Profile.Name).
			WithLabel(LabelExpect, string(g.expect))
		for _, pc := range g.checks {
			b = b.Assess(assessName(pc), assess(s, st, pc))
		}
		fs = append(fs, b.Feature())
	}
	return fs
}

func assessName(pc plan.PlannedCheck) string {
	title := pc.Check
	if c, ok := tuning.LookupCheck(pc.Check); ok {
		title = c.Title
	}
	return fmt.Sprintf("%s [%s]", title, pc.Check)
}

// assess runs one check, records its verdict, and turns it into the test's
// outcome: SKIP is a skip with its reason, an unmet expectation an error.
func assess(s *run.Suite, st *run.Stage, pc plan.PlannedCheck) features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		v := st.Checker.Run(ctx, pc)
		s.Record(ctx, st, v)
		// The verdict line itself is printed by the check as it finishes.
		switch {
		case v.Result == verdict.Skip:
			t.Skip(v.Reason)
		case !v.Met():
			t.Error(v.String())
		}
		return ctx
	}
}
