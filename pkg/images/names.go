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

// KubeadmImages are the images kubeadm v1.34 asks for, preloaded into the
// node image's containerd under exactly these names.
func KubeadmImages() []string {
	return []string{
		KubeAPIServerImage, KubeControllerManagerImage, KubeSchedulerImage,
		KubeProxyImage, CoreDNSImage, PauseImage, EtcdImage,
	}
}
