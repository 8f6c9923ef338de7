package install

import (
	"fmt"
	"strconv"
	"strings"
)

// ValuesInput is what the chart values are made of.
type ValuesInput struct {
	// Planned are the values the planner derived from the profile.
	Planned map[string]any
	// Images point the chart at the run's images (pkg/images' HelmValues);
	// they override the planned values where both set a key.
	Images map[string]any
	// APIServerHost and APIServerPort are the API server as the nodes reach
	// it (clusters.Cluster.APIServer); required under kube-proxy replacement,
	// where no kube-proxy makes the kubernetes Service reachable for the agent.
	APIServerHost string
	APIServerPort int
	// PodCIDR is the cluster's pod CIDR (k3s: --cluster-cidr). With Cilium's
	// cluster-pool IPAM the pool must be that CIDR, and native routing needs
	// it as ipv4NativeRoutingCIDR; both are filled from it when the planner
	// left them unset. Empty leaves them alone.
	PodCIDR string
}

// Values merges the chart values: planned values, then image overrides,
// then what only the cluster knows (API server address under kube-proxy
// replacement, pod CIDR). A value the planner set explicitly is kept.
func Values(in ValuesInput) (map[string]any, error) {
	values := merge(deepCopy(in.Planned), deepCopy(in.Images))

	kpr, err := kubeProxyReplacement(values)
	if err != nil {
		return nil, err
	}
	if kpr {
		if _, set := values["k8sServiceHost"]; !set || values["k8sServiceHost"] == "" {
			if in.APIServerHost == "" || in.APIServerPort == 0 {
				return nil, fmt.Errorf("kubeProxyReplacement=true needs k8sServiceHost/k8sServicePort and the cluster reported no API server address: set both in the profile's values")
			}
			values["k8sServiceHost"] = in.APIServerHost
			values["k8sServicePort"] = in.APIServerPort
		}
	}

	if in.PodCIDR != "" {
		ipam := subMap(values, "ipam")
		mode, _ := ipam["mode"].(string)
		if mode == "" || mode == "cluster-pool" {
			operator := subMap(ipam, "operator")
			if _, set := operator["clusterPoolIPv4PodCIDRList"]; !set {
				operator["clusterPoolIPv4PodCIDRList"] = []any{in.PodCIDR}
			}
		}
		if values["routingMode"] == "native" {
			if v, _ := values["ipv4NativeRoutingCIDR"].(string); v == "" {
				values["ipv4NativeRoutingCIDR"] = in.PodCIDR
			}
		}
	}
	return values, nil
}

// KubeProxyReplacement reports whether values turn kube-proxy replacement on
// (the chart takes a boolean or the strings "true"/"false").
func KubeProxyReplacement(values map[string]any) bool {
	on, _ := kubeProxyReplacement(values)
	return on
}

func kubeProxyReplacement(values map[string]any) (bool, error) {
	switch v := values["kubeProxyReplacement"].(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			return false, fmt.Errorf("chart value kubeProxyReplacement=%q: want true or false (the v1.14 modes strict/partial/probe are gone)", v)
		}
		return b, nil
	default:
		return false, fmt.Errorf("chart value kubeProxyReplacement=%v (%T): want true or false", v, v)
	}
}

// merge merges src into dst recursively: maps merge, anything else in src
// replaces what dst has. It returns dst.
func merge(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, sv := range src {
		if sm, ok := sv.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = sv
	}
	return dst
}

// subMap returns m[key] as a map, creating it (or replacing a non-map).
func subMap(m map[string]any, key string) map[string]any {
	if sub, ok := m[key].(map[string]any); ok {
		return sub
	}
	sub := map[string]any{}
	m[key] = sub
	return sub
}

func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopyValue(v)
	}
	return out
}

func deepCopyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return deepCopy(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopyValue(e)
		}
		return out
	case []string:
		return append([]string(nil), v...)
	default:
		return v
	}
}
