package images_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
	"github.com/tunedcilium/tunedcilium/pkg/images"
)

// The values must make Cilium's own chart (from the module cache) point every
// agent and operator container at the local images, with no digest and no
// pull; the negative control renders the chart's defaults (registry images).
// (An external test package: pkg/chart itself imports pkg/images.)
func TestHelmValuesPointTheChartAtLocalImages(t *testing.T) {
	dir, err := chart.ModuleChartDir(images.CiliumVersion)
	if err != nil {
		t.Fatal(err)
	}
	c, err := chart.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := chart.Render(c, images.Source{Local: true}.HelmValues(), "kube-system", images.KubernetesVersion)
	if err != nil {
		t.Fatal(err)
	}
	agent := containers(t, r.Manifests["DaemonSet/cilium"])
	operator := containers(t, r.Manifests["Deployment/cilium-operator"])
	if len(agent) == 0 || len(operator) == 0 {
		t.Fatalf("rendered chart lacks the agent DaemonSet or the operator Deployment: %d, %d containers", len(agent), len(operator))
	}
	for name, img := range agent {
		if img != images.CiliumImage+" Never" {
			t.Errorf("agent container %s: image/pullPolicy %q, want %q", name, img, images.CiliumImage+" Never")
		}
	}
	for name, img := range operator {
		if img != images.OperatorImage+" Never" {
			t.Errorf("operator container %s: image/pullPolicy %q, want %q", name, img, images.OperatorImage+" Never")
		}
	}
	if _, ok := r.Manifests["DaemonSet/cilium-envoy"]; ok {
		t.Error("the local image set has no Envoy image, but the chart still renders the cilium-envoy DaemonSet")
	}

	// negative control: the chart's defaults point at a registry
	d, err := chart.Render(c, map[string]any{}, "kube-system", images.KubernetesVersion)
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
