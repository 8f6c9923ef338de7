// Package probe reads a node's real datapath from inside its network
// namespace and returns typed evidence: conntrack entries and the iptables
// rules that skip tracking, NAT rules and their counters, XDP and tc/tcx BPF
// programs per device, device kinds, MTUs and BIG TCP sizes, qdiscs, routes,
// TCP congestion control, and counting rules for a chain.
//
// A Node is opened by network namespace name, by PID, by Docker container
// name (kind/k3d nodes) or as the host. Probes enter the namespace on a
// locked OS thread (netlink, cilium/ebpf, /proc/sys) and run the node
// tools that have no library (iptables-*-save) on that thread. Where
// entering is impossible a Node is reached through a Runner that executes
// commands inside it (docker exec, a privileged pod); the probes then parse
// `ip -j`, `tc -j`, `iptables-save -c`, `conntrack` and `cat /proc/sys/...`
// and return the same evidence.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Node is a handle on one node's network namespace. Close it when done.
type Node struct {
	name string
	// ns and nl are set when the namespace can be entered; a node reached
	// only through a Runner has ns == netns.None() and nl == nil.
	ns netns.NsHandle
	nl *netlink.Handle
	// run executes node commands: on a thread inside ns, or through exec.
	run     Runner
	closers []func() error
}

// ErrNotEnterable is returned by operations that need to be inside the
// namespace (Do, Start, Listen, Dial) on a node reached by exec only.
var ErrNotEnterable = errors.New("node is reached through exec only: its namespace cannot be entered from here")

// OpenNetNS opens the named network namespace (/var/run/netns/NAME, as made
// by `ip netns add`).
func OpenNetNS(name string) (*Node, error) {
	h, err := netns.GetFromName(name)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %q: %w (list them with `ip netns list`)", name, notFound(err))
	}
	return enter("netns "+name, h)
}

// OpenPID opens the network namespace of process pid (/proc/PID/ns/net).
func OpenPID(pid int) (*Node, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("open network namespace of pid %d: not a process id", pid)
	}
	h, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, fmt.Errorf("open network namespace of pid %d: %w", pid, notFound(err))
	}
	return enter("pid "+strconv.Itoa(pid), h)
}

// Host opens the network namespace this process runs in.
func Host() (*Node, error) {
	h, err := netns.GetFromPath("/proc/self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("open the host network namespace: %w", err)
	}
	return enter("host", h)
}

// Via returns a node reached only through r, which runs commands inside it
// (for example a privileged pod on an existing cluster). name labels it in
// evidence and errors.
func Via(name string, r Runner) *Node {
	return &Node{name: name, ns: netns.None(), run: r}
}

// notFound marks a missing namespace file or process with ErrNoSuchNode.
func notFound(err error) error {
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%w: %w", ErrNoSuchNode, err)
	}
	return err
}

func enter(name string, h netns.NsHandle) (*Node, error) {
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink handle in %s: %w", name, err)
	}
	n := &Node{name: name, ns: h, nl: nl}
	n.run = nsRunner{node: n}
	return n, nil
}

// Name says how the node was opened: "netns NAME", "pid PID",
// "container NAME", "host", or the name given to Via.
func (n *Node) Name() string { return n.name }

// Enterable reports whether probes run inside the namespace (netlink,
// cilium/ebpf) rather than through a Runner.
func (n *Node) Enterable() bool { return n.nl != nil }

// Runner returns what runs commands in this node.
func (n *Node) Runner() Runner { return n.run }

// Close releases the namespace handle and anything the node opened.
func (n *Node) Close() error {
	var errs []error
	if n.nl != nil {
		n.nl.Close()
	}
	if n.ns.IsOpen() {
		errs = append(errs, n.ns.Close())
	}
	for _, c := range n.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Do runs fn on an OS thread that is inside the node's network namespace,
// for calls that use the caller's namespace: creating sockets, resolving
// interface indexes in the BPF syscall, reading /proc/sys/net, forking a
// child. fn runs on its own goroutine locked to that thread; goroutines fn
// starts are NOT in the namespace. The thread is switched back afterwards;
// if that fails, it stays locked and Go discards it with the goroutine, so
// no thread is ever left in the wrong namespace.
func (n *Node) Do(fn func() error) error {
	if !n.Enterable() {
		return fmt.Errorf("%s: %w", n.name, ErrNotEnterable)
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("%s: current network namespace: %w", n.name, err)
			return
		}
		defer orig.Close()
		if err := netns.Set(n.ns); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter %s: %w", n.name, err)
			return
		}
		fnErr := fn()
		if err := netns.Set(orig); err != nil {
			done <- errors.Join(fnErr, fmt.Errorf("leave %s: %w (thread discarded)", n.name, err))
			return
		}
		runtime.UnlockOSThread()
		done <- fnErr
	}()
	return <-done
}

// Command prepares argv to run inside the node's network namespace: set
// its Stdout/Stderr, then start it with StartCommand. The process gets
// SIGKILL if this program dies first.
func (n *Node) Command(ctx context.Context, argv ...string) *exec.Cmd {
	if len(argv) == 0 {
		return &exec.Cmd{Err: errors.New("command: empty argv")}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// StartCommand starts cmd forked from a thread inside the node's namespace,
// so the process lives there; the caller waits for it. Only for enterable
// nodes: the binary is this machine's.
func (n *Node) StartCommand(cmd *exec.Cmd) error {
	if err := n.Do(cmd.Start); err != nil {
		return fmt.Errorf("start %s in %s: %w", cmd.Path, n.name, err)
	}
	return nil
}

// IsRoot reports whether this process runs as root, which entering another
// namespace and reading conntrack need.
func IsRoot() bool { return os.Geteuid() == 0 }

// DialContext opens a connection from inside the node's namespace (the
// socket is created there; it stays there whatever thread uses it). Give
// IP addresses: name resolution and dual-stack racing would run outside.
func (n *Node) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var conn net.Conn
	err := n.Do(func() (err error) {
		conn, err = (&net.Dialer{FallbackDelay: -1}).DialContext(ctx, network, address)
		return err
	})
	return conn, err
}

// Listen opens a listening socket inside the node's namespace.
func (n *Node) Listen(network, address string) (net.Listener, error) {
	var ln net.Listener
	err := n.Do(func() (err error) {
		ln, err = net.Listen(network, address)
		return err
	})
	return ln, err
}
