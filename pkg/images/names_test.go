package images

import (
	"strings"
	"testing"
)

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
