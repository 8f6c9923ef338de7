package images

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
)

// The values must make Cilium's own chart (from the module cache) point every
// agent and operator container at the local images, with no digest and no
// pull; the negative control renders the chart's defaults (registry images).
func TestHelmValuesPointTheChartAtLocalImages(t *testing.T) {
	dir, err := chart.ModuleChartDir(CiliumVersion)
	if err != nil {
		t.Fatal(err)
	}
	c, err := chart.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := chart.Render(c, Source{Local: true}.HelmValues(), "kube-system", KubernetesVersion)
	if err != nil {
		t.Fatal(err)
	}
	agent := containers(t, r.Manifests["DaemonSet/cilium"])
	operator := containers(t, r.Manifests["Deployment/cilium-operator"])
	if len(agent) == 0 || len(operator) == 0 {
		t.Fatalf("rendered chart lacks the agent DaemonSet or the operator Deployment: %d, %d containers", len(agent), len(operator))
	}
	for name, img := range agent {
		if img != CiliumImage+" Never" {
			t.Errorf("agent container %s: image/pullPolicy %q, want %q", name, img, CiliumImage+" Never")
		}
	}
	for name, img := range operator {
		if img != OperatorImage+" Never" {
			t.Errorf("operator container %s: image/pullPolicy %q, want %q", name, img, OperatorImage+" Never")
		}
	}
	if _, ok := r.Manifests["DaemonSet/cilium-envoy"]; ok {
		t.Error("the local image set has no Envoy image, but the chart still renders the cilium-envoy DaemonSet")
	}

	// negative control: the chart's defaults point at a registry
	d, err := chart.Render(c, map[string]any{}, "kube-system", KubernetesVersion)
	if err != nil {
		t.Fatal(err)
	}
	defaults := containers(t, d.Manifests["DaemonSet/cilium"])
	if len(defaults) == 0 {
		t.Fatal("default chart renders no agent containers")
	}
	for name, img := range defaults {
		if strings.HasPrefix(img, "localhost/") {
			t.Errorf("default chart container %s already uses a local image %q: the test proves nothing", name, img)
		}
	}
}

func TestSourceUserImage(t *testing.T) {
	s := Source{CiliumImage: "registry.example/me/cilium:dev"}
	v := s.HelmValues()
	img := v["image"].(map[string]any)
	if img["override"] != "registry.example/me/cilium:dev" || img["pullPolicy"] != "Never" || img["useDigest"] != false {
		t.Errorf("image values = %v", img)
	}
	if _, ok := v["operator"]; ok {
		t.Error("operator overridden though only an agent image was given")
	}
	if got := s.NodeLoad(); len(got) != 1 || got[0] != "registry.example/me/cilium:dev" {
		t.Errorf("NodeLoad = %v", got)
	}
	if (Source{}).HelmValues() != nil || len((Source{}).NodeLoad()) != 0 {
		t.Error("the default source must leave the chart alone")
	}
	local := Source{Local: true}.NodeLoad()
	if strings.Join(local, ",") != CiliumImage+","+OperatorImage+","+WorkloadImage {
		t.Errorf("local NodeLoad = %v", local)
	}
}

// kubeadm's images keep registry.k8s.io names; everything else is localhost/.
func TestImageNames(t *testing.T) {
	for _, r := range recipes() {
		kubeadm := false
		for _, k := range KubeadmImages() {
			kubeadm = kubeadm || k == r.ref
		}
		if !kubeadm && !strings.HasPrefix(r.ref, "localhost/") {
			t.Errorf("image %s = %s: non-kubeadm images need the localhost/ domain", r.name, r.ref)
		}
		if strings.HasSuffix(r.ref, ":latest") {
			t.Errorf("image %s = %s: a :latest tag makes kubelet pull", r.name, r.ref)
		}
	}
	if len(KubeadmImages()) != 7 {
		t.Errorf("kubeadm images = %v", KubeadmImages())
	}
}

func TestKubernetesBuildGoMod(t *testing.T) {
	in := []byte("module k8s.io/kubernetes\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n)\n")
	got, err := kubernetesBuildGoMod(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"require k8s.io/kubernetes " + KubernetesVersion, "k8s.io/api => k8s.io/api " + KubernetesStagingVersion, "k8s.io/client-go => k8s.io/client-go " + KubernetesStagingVersion} {
		if !strings.Contains(got, want) {
			t.Errorf("generated go.mod lacks %q:\n%s", want, got)
		}
	}
	if _, err := kubernetesBuildGoMod([]byte("module x\n")); err == nil {
		t.Error("a go.mod without staging replaces must be an error")
	}
}

// containers maps container name (init containers included) to "image pullPolicy".
func containers(t *testing.T, manifest string) map[string]string {
	t.Helper()
	if manifest == "" {
		return nil
	}
	var obj appsv1.Deployment // DaemonSet and Deployment share spec.template
	if err := yaml.Unmarshal([]byte(manifest), &obj); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range append(obj.Spec.Template.Spec.InitContainers, obj.Spec.Template.Spec.Containers...) {
		out[c.Name] = c.Image + " " + string(c.ImagePullPolicy)
	}
	return out
}

func TestParseSource(t *testing.T) {
	t.Setenv(EnvImages, "")
	t.Setenv(EnvCiliumImage, "")
	t.Setenv(EnvOperatorImage, "")
	s, err := ParseSource("local", "", "")
	if err != nil || !s.Local || s.Agent() != CiliumImage || s.Operator() != OperatorImage {
		t.Errorf("local: %+v %v", s, err)
	}
	s, err = ParseSource("", "localhost/me/cilium:dev", "")
	if err != nil || s.Local || s.Agent() != "localhost/me/cilium:dev" || s.Operator() != "" {
		t.Errorf("own build: %+v %v", s, err)
	}
	t.Setenv(EnvImages, "local")
	if s, err := ParseSource("", "", ""); err != nil || !s.Local {
		t.Errorf("$%s=local not honoured: %+v %v", EnvImages, s, err)
	}
	for _, bad := range [][3]string{{"offline", "", ""}, {"", "has space:x", ""}, {"", "localhost/me/cilium", ""}, {"", "", "op@sha256:abc"}} {
		_, err := ParseSource(bad[0], bad[1], bad[2])
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "--") {
			t.Errorf("ParseSource(%q) error = %v, want a one-line error naming the flag", bad, err)
		}
	}
}
