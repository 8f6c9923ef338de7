package checks

import (
	"context"
	"fmt"
	"net/netip"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

var ciliumNodes = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnodes"}

// ciliumNodePodCIDRs reads spec.ipam.podCIDRs of every CiliumNode: where
// Cilium's cluster-pool IPAM, not Kubernetes, hands out the pod CIDRs.
func ciliumNodePodCIDRs(ctx context.Context, restCfg *rest.Config) (map[string][]netip.Prefix, error) {
	dyn, err := dynamic.NewForConfig(restCfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	list, err := dyn.Resource(ciliumNodes).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list CiliumNodes: %w", err)
	}
	out := map[string][]netip.Prefix{}
	for _, item := range list.Items {
		cidrs, _, _ := unstructured.NestedStringSlice(item.Object, "spec", "ipam", "podCIDRs")
		for _, c := range cidrs {
			if p, err := netip.ParsePrefix(c); err == nil && p.Addr().Is4() {
				out[item.GetName()] = append(out[item.GetName()], p)
			}
		}
	}
	return out, nil
}
