// Package probetest builds real network topologies for tests: named network
// namespaces joined by veth pairs, with addresses, routes, sysctls and
// iptables rules, all made with netlink (iptables through its own binaries).
// Everything a test creates is removed in t.Cleanup, even when the test
// fails; namespaces left behind by an interrupted run (SIGINT/SIGTERM are
// caught; a killed or timed-out test binary is not) are swept by the next
// run, see SweepStale.
package probetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NamePrefix starts the name of every namespace this package creates,
// followed by the creating process's PID: "tcil-<pid>-<seq>-<role>".
const NamePrefix = "tcil-"

// netnsDir is where named network namespaces are bind-mounted (iproute2's
// convention, also vishvananda/netns').
const netnsDir = "/var/run/netns"

// NetNS is a named network namespace created for one test.
type NetNS struct {
	// Name is the namespace's name under /var/run/netns (usable with
	// `ip netns exec`).
	Name string
	// Handle is an open handle on the namespace.
	Handle netns.NsHandle
	// NL is a netlink handle whose sockets live in the namespace.
	NL *netlink.Handle
}

// RequireRoot skips the test, saying why, unless it runs as root: the tests
// of this project that touch the kernel need CAP_NET_ADMIN and CAP_SYS_ADMIN.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it creates network namespaces, veth pairs and BPF programs on the real kernel (CI runs it as root)")
	}
}

var seq atomic.Int64

// NewNetNS creates a named network namespace with loopback up, and registers
// its removal (after killing any process left inside) with t.Cleanup.
func NewNetNS(t testing.TB, role string) *NetNS {
	t.Helper()
	RequireRoot(t)
	sweepOnce.Do(func() {
		if err := SweepStale(); err != nil {
			t.Logf("sweeping stale namespaces: %v", err)
		}
	})
	name := fmt.Sprintf("%s%d-%d-%s", NamePrefix, os.Getpid(), seq.Add(1), role)
	handle, err := newNamed(name)
	if err != nil {
		t.Fatalf("create network namespace %s: %v", name, err)
	}
	interruptOnce.Do(catchInterrupts)
	track(name)
	ns := &NetNS{Name: name, Handle: handle}
	t.Cleanup(func() {
		if err := ns.remove(); err != nil {
			t.Errorf("remove network namespace %s: %v", name, err)
		}
	})
	ns.NL, err = netlink.NewHandleAt(handle)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", name, err)
	}
	lo, err := ns.NL.LinkByName("lo")
	if err != nil {
		t.Fatalf("find lo in %s: %v", name, err)
	}
	if err := ns.NL.LinkSetUp(lo); err != nil {
		t.Fatalf("set lo up in %s: %v", name, err)
	}
	return ns
}

// newNamed creates the namespace from a locked thread and puts the thread
// back where it was; if that fails the thread stays locked, so Go discards
// it when the goroutine ends, rather than leaving it in the wrong namespace.
func newNamed(name string) (netns.NsHandle, error) {
	type result struct {
		h   netns.NsHandle
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{netns.None(), err}
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name)
		if rerr := netns.Set(orig); rerr != nil {
			done <- result{h, errors.Join(err, fmt.Errorf("restore namespace: %w", rerr))}
			return // thread stays locked: discarded when this goroutine exits
		}
		runtime.UnlockOSThread()
		done <- result{h, err}
	}()
	r := <-done
	return r.h, r.err
}

// remove kills the processes inside the namespace, closes the handles and
// deletes the name.
func (ns *NetNS) remove() error {
	var errs []error
	if err := killProcessesIn(filepath.Join(netnsDir, ns.Name)); err != nil {
		errs = append(errs, err)
	}
	if ns.NL != nil {
		ns.NL.Close()
	}
	if err := ns.Handle.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := deleteNamed(ns.Name); err != nil {
		errs = append(errs, err)
	}
	untrack(ns.Name)
	return errors.Join(errs...)
}

func deleteNamed(name string) error {
	if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.EINVAL) {
		return err
	}
	return nil
}

// Exec runs argv inside the namespace with `ip netns exec` and fails the
// test, printing the output, if it fails.
func (ns *NetNS) Exec(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, argv...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s: %v\n%s", ns.Name, strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// Sysctl writes a sysctl of the namespace, e.g. Sysctl(t, "net.ipv4.ip_forward", "1").
func (ns *NetNS) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	// Written from inside the namespace by a child: /proc/sys/net shows the
	// writer's namespace.
	ns.Exec(t, "sh", "-c", fmt.Sprintf("echo %s > %s", value, path))
}

// Iptables runs an iptables command of the given backend ("nft" or
// "legacy") inside the namespace: Iptables(t, "nft", "-t", "raw", "-A", ...).
// The rules go away with the namespace.
func (ns *NetNS) Iptables(t testing.TB, backend string, args ...string) {
	t.Helper()
	ns.Exec(t, append([]string{"iptables-" + backend, "-w"}, args...)...)
}

// Inode is the namespace's inode number, as /proc/PID/ns/net shows it.
func (ns *NetNS) Inode(t testing.TB) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(netnsDir, ns.Name), &st); err != nil {
		t.Fatalf("stat %s: %v", ns.Name, err)
	}
	return st.Ino
}

// killProcessesIn sends SIGKILL to every process whose network namespace is
// the one bind-mounted at nsPath, and waits until they are gone.
func killProcessesIn(nsPath string) error {
	var st unix.Stat_t
	if err := unix.Stat(nsPath, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("stat %s: %w", nsPath, err)
	}
	want := fmt.Sprintf("net:[%d]", st.Ino)
	pids, err := PIDsInNetNS(want)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	for _, pid := range pids {
		waitGone(pid)
	}
	return nil
}

// PIDsInNetNS lists the processes (other than this one) whose
// /proc/PID/ns/net link reads link, e.g. "net:[4026532290]".
func PIDsInNetNS(link string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		got, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err == nil && got == link {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// waitGone reaps pid if it is our child, else polls until it has exited.
func waitGone(pid int) {
	for range 200 {
		var ws unix.WaitStatus
		if wpid, _ := unix.Wait4(pid, &ws, unix.WNOHANG, nil); wpid == pid {
			return
		}
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SweepStale removes namespaces named by this package whose creating
// process is gone: the leftovers of a test binary that was killed or timed
// out before its cleanups ran.
func SweepStale() error {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", netnsDir, err)
	}
	var errs []error
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), NamePrefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || processAlive(pid) {
			continue
		}
		if err := killProcessesIn(filepath.Join(netnsDir, e.Name())); err != nil {
			errs = append(errs, err)
		}
		if err := deleteNamed(e.Name()); err != nil {
			errs = append(errs, fmt.Errorf("delete stale namespace %s: %w", e.Name(), err))
		}
	}
	return errors.Join(errs...)
}

func processAlive(pid int) bool {
	return unix.Kill(pid, 0) == nil || errors.Is(unix.Kill(pid, 0), unix.EPERM)
}

var (
	sweepOnce     sync.Once
	interruptOnce sync.Once
	liveMu        sync.Mutex
	live          = map[string]bool{}
	onInterrupt   = map[int]func(){}
	nextHook      int
)

func track(name string)   { liveMu.Lock(); live[name] = true; liveMu.Unlock() }
func untrack(name string) { liveMu.Lock(); delete(live, name); liveMu.Unlock() }

// OnInterrupt registers fn to run if the test binary gets SIGINT or
// SIGTERM (t.Cleanup does not run then), until the test ends.
func OnInterrupt(t testing.TB, fn func()) {
	interruptOnce.Do(catchInterrupts)
	liveMu.Lock()
	id := nextHook
	nextHook++
	onInterrupt[id] = fn
	liveMu.Unlock()
	t.Cleanup(func() { liveMu.Lock(); delete(onInterrupt, id); liveMu.Unlock() })
}

// catchInterrupts removes this process's namespaces (and what runs in them)
// and runs the OnInterrupt hooks on SIGINT or SIGTERM, then exits.
func catchInterrupts() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-ch
		liveMu.Lock()
		for _, fn := range onInterrupt {
			fn()
		}
		for name := range live {
			_ = killProcessesIn(filepath.Join(netnsDir, name))
			_ = deleteNamed(name)
		}
		liveMu.Unlock()
		fmt.Fprintf(os.Stderr, "probetest: %v: removed this run's network namespaces and test containers\n", sig)
		os.Exit(130)
	}()
}
