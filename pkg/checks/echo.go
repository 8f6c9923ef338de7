package checks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/tunedcilium/tunedcilium/pkg/traffic/echo"
	"github.com/tunedcilium/tunedcilium/pkg/workload"
)

// parseAsk reads the JSON lines `tunedcilium-echo ask` prints.
func parseAsk(out []byte) ([]echo.Observation, error) {
	var obs []echo.Observation
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var o echo.Observation
		if err := json.Unmarshal(line, &o); err != nil {
			return nil, fmt.Errorf("decode echo answer %q: %w", firstLine(string(line)), err)
		}
		obs = append(obs, o)
	}
	if len(obs) == 0 {
		return nil, fmt.Errorf("the echo client printed no answer")
	}
	return obs, nil
}

// askFromPod asks an echo server from a workload pod.
func askFromPod(ctx context.Context, env *Env, pod workload.Pod, addr netip.AddrPort, count int) ([]echo.Observation, error) {
	out, err := env.Workload.Exec(ctx, pod, "tunedcilium-echo", "ask", addr.String(), "--count", fmt.Sprint(count), "--timeout", "3s")
	if err != nil {
		return nil, fmt.Errorf("ask %s from pod %s on %s: %w", addr, pod.Name, pod.Node, err)
	}
	return parseAsk(out)
}

// askFromExternal asks an echo server from the container outside the cluster.
func askFromExternal(ctx context.Context, ext *workload.External, addr netip.AddrPort, count int) ([]echo.Observation, error) {
	out, err := ext.Exec(ctx, "tunedcilium-echo", "ask", addr.String(), "--count", fmt.Sprint(count), "--timeout", "3s")
	if err != nil {
		return nil, fmt.Errorf("ask %s from external container %s: %w", addr, ext.Name, err)
	}
	return parseAsk(out)
}

// burstFromPod runs `tunedcilium-echo burst` in a pod.
func burstFromPod(ctx context.Context, env *Env, pod workload.Pod, addr netip.AddrPort, count int) (echo.BurstResult, error) {
	var res echo.BurstResult
	out, err := env.Workload.Exec(ctx, pod, "tunedcilium-echo", "burst", addr.String(), "--count", fmt.Sprint(count))
	if jerr := json.Unmarshal(bytes.TrimSpace(out), &res); jerr != nil && err == nil {
		err = fmt.Errorf("decode burst summary %q: %w", firstLine(string(out)), jerr)
	}
	if err != nil {
		return res, fmt.Errorf("burst of %d connections to %s from pod %s on %s: %w", count, addr, pod.Name, pod.Node, err)
	}
	return res, nil
}

// needWorkload says why a check that sends traffic cannot run.
func needWorkload(env *Env) string {
	if env.Workload == nil {
		return "no workload deployed: the check sends traffic between the workload's pods"
	}
	return ""
}

// crossNodePair is the client pod on node A and the echo server on node B.
func crossNodePair(env *Env) (client, server workload.Pod, err error) {
	client, err = env.Workload.Client(env.Workload.NodeA())
	if err != nil {
		return
	}
	server, err = env.Workload.Echo(env.Workload.NodeB())
	return
}
