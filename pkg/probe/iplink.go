package probe

import (
	"context"
	"encoding/json"
	"fmt"
)

// ipLink is one device as `ip -j -d link show` prints it (iproute2 >= 5.x);
// the exec path reads devices and XDP attachments from it.
type ipLink struct {
	IfIndex   int      `json:"ifindex"`
	IfName    string   `json:"ifname"`
	Flags     []string `json:"flags"`
	MTU       int      `json:"mtu"`
	Qdisc     string   `json:"qdisc"`
	OperState string   `json:"operstate"`
	LinkInfo  *struct {
		InfoKind string `json:"info_kind"`
	} `json:"linkinfo"`
	XDP *struct {
		Mode     int          `json:"mode"`
		Prog     *ipXDPProg   `json:"prog"`
		Attached []ipXDPAttch `json:"attached"`
	} `json:"xdp"`
	GSOMaxSize     uint32  `json:"gso_max_size"`
	GROMaxSize     uint32  `json:"gro_max_size"`
	GSOIPv4MaxSize *uint32 `json:"gso_ipv4_max_size"`
	GROIPv4MaxSize *uint32 `json:"gro_ipv4_max_size"`
}

type ipXDPAttch struct {
	Mode int        `json:"mode"`
	Prog *ipXDPProg `json:"prog"`
}

type ipXDPProg struct {
	ID   uint32 `json:"id"`
	Name string `json:"name"`
}

// ipLinks runs `ip -j -d link show` in the node.
func (n *Node) ipLinks(ctx context.Context) ([]ipLink, error) {
	out, err := n.run.Run(ctx, []string{"ip", "-j", "-d", "link", "show"})
	if err != nil {
		return nil, fmt.Errorf("list devices in %s: %w", n.name, err)
	}
	var links []ipLink
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("list devices in %s: decode `ip -j -d link show`: %w", n.name, err)
	}
	return links, nil
}
