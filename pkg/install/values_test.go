package install

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
)

func TestValuesKPRSetsAPIServer(t *testing.T) {
	planned := map[string]any{
		"kubeProxyReplacement": true,
		"routingMode":          "native",
		"bpf":                  map[string]any{"masquerade": true},
	}
	got, err := Values(ValuesInput{Planned: planned, APIServerHost: "172.18.0.2", APIServerPort: 6443})
	if err != nil {
		t.Fatal(err)
	}
	if got["k8sServiceHost"] != "172.18.0.2" || got["k8sServicePort"] != 6443 {
		t.Fatalf("k8sService = %v:%v, want 172.18.0.2:6443", got["k8sServiceHost"], got["k8sServicePort"])
	}
	if _, set := planned["k8sServiceHost"]; set {
		t.Fatal("Values modified the planned map")
	}

	// The strings the chart also accepts.
	for _, v := range []any{"true", "True"} {
		got, err := Values(ValuesInput{Planned: map[string]any{"kubeProxyReplacement": v}, APIServerHost: "10.0.0.1", APIServerPort: 443})
		if err != nil || got["k8sServiceHost"] != "10.0.0.1" {
			t.Errorf("kubeProxyReplacement=%q: %v, %v", v, got["k8sServiceHost"], err)
		}
	}
}

func TestValuesKPROffLeavesAPIServerAlone(t *testing.T) {
	for _, v := range []any{nil, false, "false", ""} {
		planned := map[string]any{}
		if v != nil {
			planned["kubeProxyReplacement"] = v
		}
		got, err := Values(ValuesInput{Planned: planned, APIServerHost: "172.18.0.2", APIServerPort: 6443})
		if err != nil {
			t.Fatal(err)
		}
		if _, set := got["k8sServiceHost"]; set {
			t.Errorf("kubeProxyReplacement=%v set k8sServiceHost=%v", v, got["k8sServiceHost"])
		}
	}
}

func TestValuesKPRErrors(t *testing.T) {
	_, err := Values(ValuesInput{Planned: map[string]any{"kubeProxyReplacement": true}})
	if err == nil || !strings.Contains(err.Error(), "k8sServiceHost") {
		t.Errorf("KPR without an API server address: err = %v", err)
	}
	_, err = Values(ValuesInput{Planned: map[string]any{"kubeProxyReplacement": "strict"}, APIServerHost: "h", APIServerPort: 1})
	if err == nil || !strings.Contains(err.Error(), `kubeProxyReplacement="strict"`) {
		t.Errorf("KPR strict: err = %v", err)
	}
	// The profile's own address wins over the cluster's.
	got, err := Values(ValuesInput{Planned: map[string]any{"kubeProxyReplacement": true, "k8sServiceHost": "lb.example", "k8sServicePort": 8443}, APIServerHost: "172.18.0.2", APIServerPort: 6443})
	if err != nil || got["k8sServiceHost"] != "lb.example" || got["k8sServicePort"] != 8443 {
		t.Errorf("explicit k8sServiceHost: %v:%v, %v", got["k8sServiceHost"], got["k8sServicePort"], err)
	}
}

func TestValuesImagesOverridePlanned(t *testing.T) {
	planned := map[string]any{
		"image":    map[string]any{"pullPolicy": "IfNotPresent", "tag": "v1.20.2"},
		"operator": map[string]any{"replicas": 1},
	}
	images := map[string]any{
		"image":    map[string]any{"override": "localhost/cilium/cilium:v1.20.2", "pullPolicy": "Never", "useDigest": false},
		"operator": map[string]any{"image": map[string]any{"override": "localhost/cilium/operator-generic:v1.20.2"}},
	}
	got, err := Values(ValuesInput{Planned: planned, Images: images})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"image": map[string]any{"override": "localhost/cilium/cilium:v1.20.2", "pullPolicy": "Never", "useDigest": false, "tag": "v1.20.2"},
		"operator": map[string]any{
			"replicas": 1,
			"image":    map[string]any{"override": "localhost/cilium/operator-generic:v1.20.2"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged = %#v\nwant %#v", got, want)
	}
	// Inputs untouched.
	if planned["image"].(map[string]any)["pullPolicy"] != "IfNotPresent" {
		t.Fatal("Values modified the planned values")
	}
}

func TestValuesPodCIDR(t *testing.T) {
	got, err := Values(ValuesInput{Planned: map[string]any{"routingMode": "native"}, PodCIDR: "10.42.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	pool := got["ipam"].(map[string]any)["operator"].(map[string]any)["clusterPoolIPv4PodCIDRList"]
	if !reflect.DeepEqual(pool, []any{"10.42.0.0/16"}) || got["ipv4NativeRoutingCIDR"] != "10.42.0.0/16" {
		t.Fatalf("pool %v, native CIDR %v", pool, got["ipv4NativeRoutingCIDR"])
	}

	// Kubernetes IPAM takes node podCIDRs from the cluster: no pool; tunnel
	// routing needs no native CIDR; planner values win.
	got, err = Values(ValuesInput{Planned: map[string]any{"ipam": map[string]any{"mode": "kubernetes"}, "routingMode": "tunnel"}, PodCIDR: "10.42.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	if _, set := got["ipam"].(map[string]any)["operator"]; set || got["ipv4NativeRoutingCIDR"] != nil {
		t.Fatalf("kubernetes IPAM / tunnel got %v", got)
	}
	got, _ = Values(ValuesInput{Planned: map[string]any{"routingMode": "native", "ipv4NativeRoutingCIDR": "10.0.0.0/8", "ipam": map[string]any{"operator": map[string]any{"clusterPoolIPv4PodCIDRList": []any{"10.9.0.0/16"}}}}, PodCIDR: "10.42.0.0/16"})
	if got["ipv4NativeRoutingCIDR"] != "10.0.0.0/8" || !reflect.DeepEqual(got["ipam"].(map[string]any)["operator"].(map[string]any)["clusterPoolIPv4PodCIDRList"], []any{"10.9.0.0/16"}) {
		t.Fatalf("planner values overwritten: %v", got)
	}
}

// TestValuesRenderWithRealChart renders the module's Cilium chart with merged
// values: the chart's schema accepts them and the agent gets the API server
// address (KUBERNETES_SERVICE_HOST) and the settings in cilium-config.
func TestValuesRenderWithRealChart(t *testing.T) {
	dir, err := chart.ModuleChartDir("")
	if err != nil {
		t.Fatal(err)
	}
	c, err := chart.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	values, err := Values(ValuesInput{
		Planned:       map[string]any{"kubeProxyReplacement": true, "routingMode": "native", "bpf": map[string]any{"masquerade": true}},
		Images:        map[string]any{"image": map[string]any{"override": "localhost/cilium/cilium:v1.20.2", "useDigest": false, "pullPolicy": "Never"}},
		APIServerHost: "172.18.0.2", APIServerPort: 6443,
		PodCIDR: "10.42.0.0/16",
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := chart.Render(c, values, "kube-system", "v1.34.4")
	if err != nil {
		t.Fatal(err)
	}
	cm, err := r.ConfigMap("cilium-config")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"kube-proxy-replacement":   "true",
		"routing-mode":             "native",
		"ipv4-native-routing-cidr": "10.42.0.0/16",
		"cluster-pool-ipv4-cidr":   "10.42.0.0/16",
		"enable-bpf-masquerade":    "true",
	} {
		if cm[k] != want {
			t.Errorf("cilium-config %s = %q, want %q", k, cm[k], want)
		}
	}
	ds := r.Manifests["DaemonSet/cilium"]
	for _, want := range []string{"KUBERNETES_SERVICE_HOST", `"172.18.0.2"`, "KUBERNETES_SERVICE_PORT", `"6443"`, "localhost/cilium/cilium:v1.20.2", "imagePullPolicy: Never"} {
		if !strings.Contains(ds, want) {
			t.Errorf("DaemonSet/cilium lacks %s", want)
		}
	}
}
