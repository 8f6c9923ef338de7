package images

// Image names. The `localhost/` domain keeps containerd from renaming an
// imported image to docker.io/...; kubeadm's images carry the exact names
// `kubeadm config images list --kubernetes-version KubernetesVersion` prints,
// which the builder checks against the kubeadm it built.
const (
	NodeImage     = "localhost/tunedcilium/kind-node:" + KubernetesVersion
	CiliumImage   = "localhost/cilium/cilium:" + CiliumVersion
	OperatorImage = "localhost/cilium/operator-generic:" + CiliumVersion
	WorkloadImage = "localhost/tunedcilium/workload:" + WorkloadTag

	KubeAPIServerImage         = "registry.k8s.io/kube-apiserver:" + KubernetesVersion
	KubeControllerManagerImage = "registry.k8s.io/kube-controller-manager:" + KubernetesVersion
	KubeSchedulerImage         = "registry.k8s.io/kube-scheduler:" + KubernetesVersion
	KubeProxyImage             = "registry.k8s.io/kube-proxy:" + KubernetesVersion
	CoreDNSImage               = "registry.k8s.io/coredns/coredns:" + CoreDNSTag
	PauseImage                 = "registry.k8s.io/pause:" + PauseTag
	EtcdImage                  = "registry.k8s.io/etcd:" + EtcdTag
)

// InputsLabel is the Docker label on every built image holding the hash of
// its inputs; a build is skipped when an image with the same hash exists.
const InputsLabel = "io.tunedcilium.inputs"

// Source says where Cilium's images come from for a run.
type Source struct {
	// Local uses the images `tunedcilium images build` made (--images=local).
	Local bool
	// CiliumImage and OperatorImage override the agent and operator images
	// (--cilium-image REPO:TAG): a user's own Cilium build.
	CiliumImage   string
	OperatorImage string
}

// Agent returns the agent image the source points at, or "" for the chart's
// default (a registry image).
func (s Source) Agent() string {
	if s.CiliumImage != "" {
		return s.CiliumImage
	}
	if s.Local {
		return CiliumImage
	}
	return ""
}

// Operator returns the operator image the source points at, or "".
func (s Source) Operator() string {
	if s.OperatorImage != "" {
		return s.OperatorImage
	}
	if s.Local {
		return OperatorImage
	}
	return ""
}

// HelmValues returns the Cilium chart values that point the agent and the
// operator at the source's images: `image.override` and
// `operator.image.override` (the chart then uses the name as given, without
// its -generic suffix logic or a digest), `useDigest: false` and
// `pullPolicy: Never` (the images are in the nodes already; nothing can be
// pulled). The local image set has no Envoy image, so the Envoy DaemonSet and
// the L7 proxy are turned off with it. Nil when the chart's defaults apply.
func (s Source) HelmValues() map[string]any {
	agent, operator := s.Agent(), s.Operator()
	if agent == "" && operator == "" {
		return nil
	}
	values := map[string]any{}
	if agent != "" {
		values["image"] = map[string]any{
			"override": agent, "useDigest": false, "pullPolicy": "Never",
		}
	}
	if operator != "" {
		values["operator"] = map[string]any{"image": map[string]any{
			"override": operator, "useDigest": false, "pullPolicy": "Never",
		}}
	}
	if s.Local {
		values["envoy"] = map[string]any{"enabled": false}
		values["l7Proxy"] = false
	}
	return values
}

// NodeLoad lists the images a run loads into every node: the agent and the
// operator (either can land on any node) and the suite's workload image. The
// kubeadm images are preloaded in the node image already.
func (s Source) NodeLoad() []string {
	var out []string
	if a := s.Agent(); a != "" {
		out = append(out, a)
	}
	if o := s.Operator(); o != "" {
		out = append(out, o)
	}
	if s.Local {
		out = append(out, WorkloadImage)
	}
	return out
}

// KubeadmImages are the images kubeadm v1.34 asks for, preloaded into the
// node image's containerd under exactly these names.
func KubeadmImages() []string {
	return []string{
		KubeAPIServerImage, KubeControllerManagerImage, KubeSchedulerImage,
		KubeProxyImage, CoreDNSImage, PauseImage, EtcdImage,
	}
}
