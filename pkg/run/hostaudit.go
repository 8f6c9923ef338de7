package run

import (
	"context"
	"fmt"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/hostaudit"
)

// RecordHostAudit audits the machines under a stage's cluster (the host of
// kind/k3d nodes, each node of an existing cluster) for the tuning guide's
// host items and records one verdict per item: informational (PASS or SKIP
// with what was found) unless --require-host-tuning makes a missing
// setting FAIL. An audit that cannot run is reported and records nothing.
func (s *Suite) RecordHostAudit(ctx context.Context, st *Stage) {
	if st == nil || st.Cluster == nil {
		return
	}
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	vs, err := hostaudit.ClusterVerdicts(actx, st.Cluster, st.Profile.Name, s.Opts.RequireHostTuning)
	if err != nil {
		fmt.Fprintf(s.Out, "  host audit: %v\n", err)
		return
	}
	for _, v := range vs {
		s.Record(ctx, st, v)
	}
}
