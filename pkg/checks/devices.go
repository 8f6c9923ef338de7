package checks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
)

// errNoProbe says a node's namespace could not be opened.
var errNoProbe = errors.New("node not enterable")

func probeOf(n *Node) (*probe.Node, error) {
	if n.Probe == nil {
		return nil, fmt.Errorf("node %s: %w: %v", n.Name, errNoProbe, n.ProbeErr)
	}
	return n.Probe, nil
}

// nodeDeviceNames are the devices Cilium serves NodePort on (the status's
// kube-proxy-replacement devices); when the agent lists none, the device
// of the node's route towards another node.
func nodeDeviceNames(ctx context.Context, env *Env, n *Node) ([]string, error) {
	if n.Status != nil {
		if kpr := n.Status.Response.KubeProxyReplacement; kpr != nil {
			var names []string
			for _, d := range kpr.DeviceList {
				if d != nil && d.Name != "" {
					names = append(names, d.Name)
				}
			}
			if len(names) == 0 {
				names = append(names, kpr.Devices...)
			}
			if len(names) > 0 {
				return names, nil
			}
		}
	}
	dev, err := deviceTowardsPeer(ctx, env, n)
	if err != nil {
		return nil, err
	}
	return []string{dev}, nil
}

// deviceTowardsPeer is the device of the node's route to another node's IP.
func deviceTowardsPeer(ctx context.Context, env *Env, n *Node) (string, error) {
	p, err := probeOf(n)
	if err != nil {
		return "", err
	}
	for _, other := range env.Nodes {
		if other.Name == n.Name {
			continue
		}
		ip, err := nodeAddr(other)
		if err != nil {
			return "", err
		}
		routes, err := p.RoutesTo(ctx, netip.PrefixFrom(ip, ip.BitLen()))
		if err != nil {
			return "", fmt.Errorf("routes of node %s: %w", n.Name, err)
		}
		for _, r := range routes {
			if r.Device != "" && r.Type == "unicast" {
				return r.Device, nil
			}
		}
	}
	return "", fmt.Errorf("node %s has no route towards another node's IP", n.Name)
}

// nodeDevice is the node's first NodePort/native device.
func nodeDevice(ctx context.Context, env *Env, n *Node) (probe.Device, error) {
	p, err := probeOf(n)
	if err != nil {
		return probe.Device{}, err
	}
	names, err := nodeDeviceNames(ctx, env, n)
	if err != nil {
		return probe.Device{}, err
	}
	d, err := p.Device(ctx, names[0])
	if err != nil {
		return probe.Device{}, fmt.Errorf("node %s device %s: %w", n.Name, names[0], err)
	}
	return d, nil
}
