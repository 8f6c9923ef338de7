// Package waitfor polls a condition until it holds, printing what it waits
// for and how long it has waited, and on timeout returns an error naming what
// was still not ready.
package waitfor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Check reports whether the condition holds and, in a few words, where it
// stands ("1/2 ready; not ready: cilium-x on node b: CrashLoopBackOff").
// An error is treated as transient (the API blinked) and polling goes on,
// the error becoming the progress; wrap it with Stop to give up at once.
type Check func(ctx context.Context) (done bool, progress string, err error)

// Wait describes one wait.
type Wait struct {
	// What is waited for, as the progress line names it: "cilium DaemonSet".
	What    string
	Timeout time.Duration
	// Interval between checks; 2s when zero.
	Interval time.Duration
	// Every is how often an unchanged progress line is repeated; 10s when zero.
	// A changed progress is printed at once.
	Every time.Duration
	// Log receives the progress lines; nil discards them.
	Log io.Writer
}

// TimeoutError is returned when the condition did not hold in time.
type TimeoutError struct {
	What     string
	Waited   time.Duration
	Progress string
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("timed out after %s waiting for %s", e.Waited.Round(time.Second), e.What)
	if e.Progress != "" {
		msg += ": " + e.Progress
	}
	return msg
}

type stopError struct{ err error }

func (s stopError) Error() string { return s.err.Error() }
func (s stopError) Unwrap() error { return s.err }

// Stop marks a check error as final: the wait ends with it.
func Stop(err error) error { return stopError{err} }

// Until polls check until it reports done, returns a Stop error, the timeout
// passes (a *TimeoutError with the last progress), or ctx ends.
func (w Wait) Until(ctx context.Context, check Check) error {
	interval := w.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	every := w.Every
	if every <= 0 {
		every = 10 * time.Second
	}
	start := time.Now()
	deadline := start.Add(w.Timeout)
	var lastPrinted string
	var lastPrintAt time.Time
	progress := ""
	for {
		done, p, err := check(ctx)
		var stop stopError
		if errors.As(err, &stop) {
			return fmt.Errorf("wait for %s: %w", w.What, stop.err)
		}
		if err != nil {
			p = "error: " + err.Error()
		}
		progress = p
		waited := time.Since(start)
		if done {
			if w.Log != nil && waited >= every {
				fmt.Fprintf(w.Log, "%s ready (%s)\n", w.What, waited.Round(time.Second))
			}
			return nil
		}
		if w.Log != nil && (progress != lastPrinted || time.Since(lastPrintAt) >= every) {
			fmt.Fprintf(w.Log, "waiting for %s: %s (%s)\n", w.What, progress, waited.Round(time.Second))
			lastPrinted, lastPrintAt = progress, time.Now()
		}
		if !time.Now().Before(deadline) {
			return &TimeoutError{What: w.What, Waited: waited, Progress: progress}
		}
		sleep := interval
		if left := time.Until(deadline); left < sleep {
			sleep = left
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s (%s): %w; last: %s", w.What, time.Since(start).Round(time.Second), ctx.Err(), progress)
		case <-time.After(sleep):
		}
	}
}
