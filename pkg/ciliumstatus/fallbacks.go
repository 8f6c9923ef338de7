package ciliumstatus

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// Fallback is one agent log line saying that something was switched off,
// fell back or was ignored.
type Fallback struct {
	// Line is the log line as the agent wrote it (trimmed).
	Line string
	// Message is the line's msg="..." field when it has one, else Line.
	Message string
	// Phrase is the phrase that matched, as listed in FallbackPhrases.
	Phrase string
	// Options are the catalog options the line concerns: usually one; a
	// BIG TCP line that names no address family concerns both families, and
	// a bandwidth manager line concerns BBR too (BBR runs on it). Empty when
	// no rule recognises the line.
	Options []tuning.Key
}

func (f Fallback) String() string {
	if len(f.Options) == 0 {
		return f.Message
	}
	names := make([]string, len(f.Options))
	for i, k := range f.Options {
		names[i] = string(k)
	}
	return strings.Join(names, ",") + ": " + f.Message
}

// FallbackPhrases are the phrases (matched case-insensitively) by which
// Cilium agents announce a silent fallback. They come from the agents' own
// messages, e.g. "BPF host routing requires enable-bpf-masquerade. Falling
// back to legacy host routing", "Falling back to iptables-based
// masquerading", "Failed to attach XDP program, ignoring due to best-effort
// mode", "Disabling the bandwidth manager", "datapath autodiscovery failed,
// reverting from netkit to veth", "Cannot enable --enable-ipv4-big-tcp,
// needs kernel 6.3 or newer".
var FallbackPhrases = []string{"falling back", "fall back", "disabling", "ignoring", "not supported", "reverting", "cannot enable"}

// optionRule recognises the options a fallback line concerns. Rules are
// tried in order; the first match wins, so the option that fell back comes
// before the option that caused it ("BPF host routing requires
// enable-bpf-masquerade" concerns host routing, "BIG TCP is not supported
// with legacy host routing" concerns BIG TCP).
type optionRule struct {
	re *regexp.Regexp
	// options are the options a matching line concerns.
	options func(message string) []tuning.Key
}

var optionRules = []optionRule{
	{regexp.MustCompile(`(?i)big[ -]?tcp`), bigTCPOptions},
	{regexp.MustCompile(`(?i)host[ -]routing|host-legacy-routing`), only(tuning.BPFHostRouting)},
	{regexp.MustCompile(`(?i)\bxdp\b|acceleration|best-effort mode`), only(tuning.XDPAcceleration)},
	{regexp.MustCompile(`(?i)netkit`), only(tuning.Netkit)},
	{regexp.MustCompile(`(?i)bandwidth[ -]manager`), only(tuning.BandwidthManager, tuning.BBR)},
	{regexp.MustCompile(`(?i)\bbbr\b`), only(tuning.BBR)},
	{regexp.MustCompile(`(?i)no-?conntrack|notrack`), only(tuning.BypassConntrack)},
	{regexp.MustCompile(`(?i)masquerad`), only(tuning.BPFMasquerade)},
	{regexp.MustCompile(`(?i)\bdsr\b`), only(tuning.DSR)},
	{regexp.MustCompile(`(?i)kube-proxy[ -]replacement|kubeproxyreplacement`), only(tuning.KubeProxyReplacement)},
	{regexp.MustCompile(`(?i)native[ -]routing|routing-mode`), only(tuning.NativeRouting)},
	{regexp.MustCompile(`(?i)\bmtu\b`), only(tuning.JumboMTU)},
}

func only(keys ...tuning.Key) func(string) []tuning.Key {
	return func(string) []tuning.Key { return keys }
}

var (
	ipv4Word = regexp.MustCompile(`(?i)ipv4`)
	ipv6Word = regexp.MustCompile(`(?i)ipv6`)
)

// bigTCPOptions: a BIG TCP line concerns the families it names
// ("--enable-ipv4-big-tcp", "BIG TCP IPv6"), both when it names none.
func bigTCPOptions(message string) []tuning.Key {
	var out []tuning.Key
	if ipv4Word.MatchString(message) {
		out = append(out, tuning.IPv4BIGTCP)
	}
	if ipv6Word.MatchString(message) {
		out = append(out, tuning.IPv6BIGTCP)
	}
	if len(out) == 0 {
		return []tuning.Key{tuning.IPv4BIGTCP, tuning.IPv6BIGTCP}
	}
	return out
}

// msgField extracts msg="..." (slog and logrus text format).
var msgField = regexp.MustCompile(`\bmsg="((?:[^"\\]|\\.)*)"`)

// ScanFallbacks returns the fallback lines of an agent log, in order. Lines
// at debug level are skipped: an agent at default verbosity does not write
// them, and with debug on they drown the real ones.
func ScanFallbacks(log io.Reader) ([]Fallback, error) {
	var out []Fallback
	sc := bufio.NewScanner(log)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || isDebug(line) {
			continue
		}
		message := line
		if m := msgField.FindStringSubmatch(line); m != nil {
			message = strings.ReplaceAll(m[1], `\"`, `"`)
		}
		lower := strings.ToLower(message)
		phrase := ""
		for _, p := range FallbackPhrases {
			if strings.Contains(lower, p) {
				phrase = p
				break
			}
		}
		if phrase == "" {
			continue
		}
		out = append(out, Fallback{Line: line, Message: message, Phrase: phrase, Options: recogniseOptions(message)})
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("scan agent log: %w", err)
	}
	return out, nil
}

// ForOptions keeps the fallbacks that concern any of the options, each once.
func ForOptions(fallbacks []Fallback, options ...tuning.Key) []Fallback {
	var out []Fallback
	for _, f := range fallbacks {
		if slices.ContainsFunc(f.Options, func(k tuning.Key) bool { return slices.Contains(options, k) }) {
			out = append(out, f)
		}
	}
	return out
}

// Lines renders fallbacks for a verdict's Fallbacks field.
func Lines(fallbacks []Fallback) []string {
	out := make([]string, 0, len(fallbacks))
	for _, f := range fallbacks {
		out = append(out, f.String())
	}
	return out
}

func recogniseOptions(message string) []tuning.Key {
	for _, r := range optionRules {
		if r.re.MatchString(message) {
			return r.options(message)
		}
	}
	return nil
}

func isDebug(line string) bool {
	l := strings.ToLower(line)
	return strings.Contains(l, "level=debug") || strings.Contains(l, `"level":"debug"`)
}
