package probe

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
)

// CongestionControl is the TCP congestion control of the node's namespace
// (per namespace since Linux 4.15).
type CongestionControl struct {
	// Default is net.ipv4.tcp_congestion_control: what new TCP sockets use
	// ("bbr", "cubic", ...).
	Default string `json:"default"`
	// Available lists the algorithms the kernel has.
	Available []string `json:"available"`
	// Allowed lists the ones unprivileged sockets may pick.
	Allowed []string `json:"allowed"`
}

var congestionSysctls = []string{
	"/proc/sys/net/ipv4/tcp_congestion_control",
	"/proc/sys/net/ipv4/tcp_available_congestion_control",
	"/proc/sys/net/ipv4/tcp_allowed_congestion_control",
}

// CongestionControl reads the namespace's TCP congestion control sysctls.
func (n *Node) CongestionControl(ctx context.Context) (CongestionControl, error) {
	values := make([]string, len(congestionSysctls))
	var err error
	if n.Enterable() {
		// /proc/sys/net shows the namespace of the thread that opens it.
		err = n.Do(func() error {
			for i, path := range congestionSysctls {
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				values[i] = strings.TrimSpace(string(b))
			}
			return nil
		})
	} else {
		var out []byte
		out, err = n.run.Run(ctx, append([]string{"cat"}, congestionSysctls...))
		lines := strings.Split(string(bytes.TrimSpace(out)), "\n")
		if err == nil && len(lines) != len(values) {
			err = fmt.Errorf("cat printed %d lines for %d sysctls", len(lines), len(values))
		}
		if err == nil {
			for i := range values {
				values[i] = strings.TrimSpace(lines[i])
			}
		}
	}
	if err != nil {
		return CongestionControl{}, fmt.Errorf("read TCP congestion control in %s: %w", n.name, err)
	}
	return CongestionControl{Default: values[0], Available: strings.Fields(values[1]), Allowed: strings.Fields(values[2])}, nil
}
