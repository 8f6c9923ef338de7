package waitfor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestUntilDone(t *testing.T) {
	var log bytes.Buffer
	n := 0
	err := Wait{What: "cilium DaemonSet", Timeout: time.Second, Interval: time.Millisecond, Log: &log}.Until(context.Background(),
		func(context.Context) (bool, string, error) {
			n++
			return n == 3, fmt.Sprintf("%d/2 ready", n-1), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "waiting for cilium DaemonSet: 0/2 ready (") || !strings.HasPrefix(lines[1], "waiting for cilium DaemonSet: 1/2 ready (") {
		t.Fatalf("progress lines = %q", lines)
	}
}

func TestUntilTimeoutNamesWhatWasNotReady(t *testing.T) {
	var log bytes.Buffer
	err := Wait{What: "cilium agents healthy", Timeout: 30 * time.Millisecond, Interval: 5 * time.Millisecond, Log: &log}.Until(context.Background(),
		func(context.Context) (bool, string, error) {
			return false, "1/2 healthy; not healthy: cilium-abcde on kind-worker: state Warning: Not all probes executed at least once", nil
		})
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want *TimeoutError", err)
	}
	want := "waiting for cilium agents healthy: 1/2 healthy; not healthy: cilium-abcde on kind-worker: state Warning"
	if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "timed out after ") {
		t.Fatalf("error = %q, want it to contain %q", err, want)
	}
	// An unchanged progress is printed once, not every poll.
	if c := strings.Count(log.String(), "waiting for"); c != 1 {
		t.Fatalf("printed %d progress lines for an unchanged progress, want 1:\n%s", c, log.String())
	}
}

func TestUntilTransientAndStopErrors(t *testing.T) {
	n := 0
	err := Wait{What: "x", Timeout: time.Second, Interval: time.Millisecond}.Until(context.Background(),
		func(context.Context) (bool, string, error) {
			n++
			if n < 3 {
				return false, "", errors.New("connection refused")
			}
			return true, "", nil
		})
	if err != nil || n != 3 {
		t.Fatalf("transient errors: err = %v after %d checks, want nil after 3", err, n)
	}

	err = Wait{What: "x", Timeout: 30 * time.Millisecond, Interval: time.Millisecond}.Until(context.Background(),
		func(context.Context) (bool, string, error) { return false, "", errors.New("connection refused") })
	if err == nil || !strings.Contains(err.Error(), "error: connection refused") {
		t.Fatalf("timeout after errors = %v, want the last error named", err)
	}

	calls := 0
	err = Wait{What: "x", Timeout: time.Second, Interval: time.Millisecond}.Until(context.Background(),
		func(context.Context) (bool, string, error) {
			calls++
			return false, "", Stop(errors.New("DaemonSet kube-system/cilium not found"))
		})
	if err == nil || calls != 1 || !strings.Contains(err.Error(), "wait for x: DaemonSet kube-system/cilium not found") {
		t.Fatalf("stop error: err = %v after %d calls", err, calls)
	}
}

func TestUntilContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Wait{What: "x", Timeout: time.Minute, Interval: time.Second}.Until(ctx,
		func(context.Context) (bool, string, error) { return false, "0/1", nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
