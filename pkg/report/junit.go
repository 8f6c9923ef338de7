package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"

	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     float64      `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       float64         `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders one JUnit XML document: a suite per profile, a case per
// check. A negative control that failed as expected is a passing case; one
// that passed is a failure.
func JUnit(run Run, profiles []Profile, vs []verdict.Verdict) ([]byte, error) {
	doc := junitSuites{Name: "tunedcilium " + run.ID}
	index := map[string]int{}
	for _, v := range vs {
		i, ok := index[v.Profile]
		if !ok {
			i = len(doc.Suites)
			index[v.Profile] = i
			doc.Suites = append(doc.Suites, junitSuite{Name: v.Profile, Properties: []junitProperty{
				{"provider", run.Provider}, {"kernel", run.Kernel}, {"cilium", run.CiliumVersion},
			}})
		}
		s := &doc.Suites[i]
		evidence, _ := json.MarshalIndent(v.Evidence, "", "  ")
		name := v.Check
		if v.Phase != "" {
			name += " [" + v.Phase + "]"
		}
		c := junitCase{
			Name:      name,
			Classname: "tunedcilium." + v.Profile + "." + orDash(v.Option),
			Time:      v.Duration.Seconds(),
			SystemOut: fmt.Sprintf("%s\nmechanism: %s\nevidence: %s", v.String(), orDash(v.Mechanism), evidence),
		}
		switch {
		case v.Result == verdict.Skip:
			c.Skipped = &junitMessage{Message: v.Reason}
			s.Skipped++
		case !v.Met():
			msg := v.Reason
			switch {
			case v.Error != "":
				msg = "not measured: " + v.Error
			case v.Expect == verdict.ExpectFail:
				msg = "negative control passed (expected FAIL): " + v.Reason
			}
			c.Failure = &junitMessage{Message: msg, Text: string(evidence)}
			s.Failures++
		}
		s.Tests++
		s.Time += c.Time
		s.Cases = append(s.Cases, c)
	}
	for _, p := range profiles {
		if p.Error == "" {
			continue
		}
		i, ok := index[p.Name]
		if !ok {
			i = len(doc.Suites)
			index[p.Name] = i
			doc.Suites = append(doc.Suites, junitSuite{Name: p.Name})
		}
		s := &doc.Suites[i]
		s.Cases = append(s.Cases, junitCase{Name: "setup", Classname: "tunedcilium." + p.Name,
			Failure: &junitMessage{Message: p.Error}})
		s.Tests++
		s.Failures++
	}
	for _, s := range doc.Suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
		doc.Time += s.Time
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode JUnit: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
