package run

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
	"github.com/tunedcilium/tunedcilium/pkg/hostaudit"
	"github.com/tunedcilium/tunedcilium/pkg/install"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/repro"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// reproFailure adds a failed verdict to its profile's repro bundle
// (REPORT_DIR/repro/<profile>), starting the bundle on the profile's first
// failure of this run, while its cluster is still up: profile, Helm values,
// chart, images with digests, the nodes' kernels and configs.
func (s *Suite) reproFailure(ctx context.Context, st *Stage, v verdict.Verdict) {
	if st == nil || st.Cluster == nil || v.Met() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	dir := repro.Dir(s.Opts.ReportDir, v.Profile)
	if b, err := repro.Read(dir); err != nil || b.RunID != s.Opts.RunID {
		if _, err := repro.Start(dir, s.reproInput(ctx, st)); err != nil {
			fmt.Fprintf(s.Out, "  repro bundle for %s: %v\n", v.Profile, err)
			return
		}
	}
	b, err := repro.AddFailure(dir, v)
	if err != nil {
		fmt.Fprintf(s.Out, "  repro bundle for %s: %v\n", v.Profile, err)
		return
	}
	f := b.Failed[len(b.Failed)-1]
	for _, x := range b.Failed {
		if x.Check == v.Check && x.Phase == v.Phase {
			f = x
		}
	}
	fmt.Fprintf(s.Out, "  repro bundle %s; replay just this check with:\n    %s\n", dir, f.Replay)
}

// reproInput gathers what a bundle records about a stage.
func (s *Suite) reproInput(ctx context.Context, st *Stage) repro.Input {
	o := s.Opts
	run := repro.Run{
		Provider: o.Provider, Nodes: o.Nodes, NodeImage: st.Spec.NodeImage, CiliumVersion: s.Cilium.String(),
		CiliumChart: o.CiliumChart, Images: o.Images, CiliumImage: o.CiliumImage, OperatorImage: o.OperatorImage,
		WorkloadImage: o.WorkloadImage, Kernel: s.Kernel.String(), KernelPlatform: o.KernelPlatform, UpgradeFrom: o.UpgradeFrom,
		Connections: o.Connections, ConntrackBound: o.ConntrackBound, MinGbps: o.MinGbps, MaxSlowdownPct: o.MaxSlowdownPct,
	}
	if o.Provider == plan.Existing {
		run.Nodes, run.Kubeconfig, run.KubeContext = 0, o.Kubeconfig, o.KubeContext
	}
	in := repro.Input{RunID: o.RunID, Profile: st.Profile, Values: st.Values, Run: run, Chart: repro.Chart{Path: s.ChartPath}}
	if ch, err := chart.Load(s.ChartPath); err == nil {
		in.Chart.Version, in.Chart.AppVersion = ch.Metadata.Version, ch.Metadata.AppVersion
	}
	refs := dedupe(append(s.Images.NodeLoad(), s.workloadImage(), st.Spec.NodeImage))
	in.Images = reproImages(ctx, refs, st)
	if srcs, closeSrcs, err := hostaudit.Sources(ctx, st.Cluster); err == nil {
		for _, src := range srcs {
			rel, cfg, where, err := hostaudit.KernelConfigText(ctx, src)
			in.Machines = append(in.Machines, repro.MachineKernel{Name: src.Name(), Release: rel, Config: cfg, ConfigFrom: where, Err: err})
		}
		closeSrcs()
	} else {
		in.Machines = append(in.Machines, repro.MachineKernel{Name: st.Cluster.Name(), Err: err})
	}
	return in
}

// reproImages describes the run's images: local Docker ids and digests,
// and the images the cluster's kube-system pods run with the ids the
// kubelet reported (the chart's registry images carry their digests there).
func reproImages(ctx context.Context, refs []string, st *Stage) []repro.Image {
	byRef := map[string]*repro.Image{}
	var order []string
	get := func(ref string) *repro.Image {
		if im, ok := byRef[ref]; ok {
			return im
		}
		byRef[ref] = &repro.Image{Ref: ref}
		order = append(order, ref)
		return byRef[ref]
	}
	if cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation()); err == nil {
		for _, r := range refs {
			im := get(r)
			if info, _, err := cli.ImageInspectWithRaw(ctx, r); err == nil {
				im.ID, im.RepoDigests = info.ID, info.RepoDigests
			}
		}
		cli.Close()
	}
	if cfg, err := clientcmd.BuildConfigFromFlags("", st.Cluster.KubeconfigPath()); err == nil {
		if kube, err := kubernetes.NewForConfig(cfg); err == nil {
			if pods, err := kube.CoreV1().Pods(install.DefaultNamespace).List(ctx, metav1.ListOptions{}); err == nil {
				for _, p := range pods.Items {
					for _, c := range p.Status.ContainerStatuses {
						im := get(c.Image)
						im.Running = append(im.Running, fmt.Sprintf("%s/%s on %s: %s", p.Namespace, p.Name, p.Spec.NodeName, c.ImageID))
					}
				}
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		return strings.Contains(order[i], "cilium") && !strings.Contains(order[j], "cilium")
	})
	out := make([]repro.Image, 0, len(order))
	for _, r := range order {
		out = append(out, *byRef[r])
	}
	return out
}
