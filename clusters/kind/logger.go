package kind

import (
	"fmt"
	"io"
	"strings"
	"sync"

	kindlog "sigs.k8s.io/kind/pkg/log"
)

// logger shows kind's user-facing lines (verbosity 0) and its warnings and
// errors, prefixed, on one writer.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func newLogger(w io.Writer) *logger { return &logger{w: w} }

func (l *logger) line(prefix, msg string) {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "kind: %s%s\n", prefix, msg)
}

func (l *logger) Warn(m string)                     { l.line("WARNING: ", m) }
func (l *logger) Warnf(f string, a ...interface{})  { l.line("WARNING: ", fmt.Sprintf(f, a...)) }
func (l *logger) Error(m string)                    { l.line("ERROR: ", m) }
func (l *logger) Errorf(f string, a ...interface{}) { l.line("ERROR: ", fmt.Sprintf(f, a...)) }

func (l *logger) V(level kindlog.Level) kindlog.InfoLogger {
	return infoLogger{l: l, enabled: level <= 0}
}

type infoLogger struct {
	l       *logger
	enabled bool
}

func (i infoLogger) Info(m string) {
	if i.enabled {
		i.l.line("", m)
	}
}

func (i infoLogger) Infof(f string, a ...interface{}) {
	if i.enabled {
		i.l.line("", fmt.Sprintf(f, a...))
	}
}

func (i infoLogger) Enabled() bool { return i.enabled }
