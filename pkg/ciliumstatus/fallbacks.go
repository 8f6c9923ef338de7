package ciliumstatus

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
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
	// Option is the catalog option the line concerns ("bpf-host-routing",
	// "xdp", ...), or "" when no rule recognises it.
	Option string
}

func (f Fallback) String() string {
	if f.Option == "" {
		return f.Message
	}
	return f.Option + ": " + f.Message
}

// FallbackPhrases are the phrases (matched case-insensitively) by which
// Cilium agents announce a silent fallback. They come from the agents' own
// messages, e.g. "BPF host routing requires enable-bpf-masquerade. Falling
// back to legacy host routing", "Falling back to iptables-based
// masquerading", "Failed to attach XDP program, ignoring due to best-effort
// mode", "Disabling the bandwidth manager", "datapath autodiscovery failed,
// reverting from netkit to veth".
var FallbackPhrases = []string{"falling back", "fall back", "disabling", "ignoring", "not supported", "reverting"}

// optionRule recognises the option a fallback line concerns. Rules are tried
// in order; the first match wins, so the option that fell back comes before
// the option that caused it ("BPF host routing requires
// enable-bpf-masquerade" concerns host routing).
type optionRule struct {
	option string
	re     *regexp.Regexp
}

var optionRules = []optionRule{
	{"bpf-host-routing", regexp.MustCompile(`(?i)host[ -]routing|host-legacy-routing`)},
	{"xdp", regexp.MustCompile(`(?i)\bxdp\b|acceleration|best-effort mode`)},
	{"netkit", regexp.MustCompile(`(?i)netkit`)},
	{"big-tcp", regexp.MustCompile(`(?i)big[ -]?tcp`)},
	{"bandwidth-manager", regexp.MustCompile(`(?i)bandwidth[ -]manager|\bbbr\b`)},
	{"install-no-conntrack-iptables-rules", regexp.MustCompile(`(?i)no-?conntrack|notrack`)},
	{"bpf-masquerade", regexp.MustCompile(`(?i)masquerad`)},
	{"dsr", regexp.MustCompile(`(?i)\bdsr\b`)},
	{"kube-proxy-replacement", regexp.MustCompile(`(?i)kube-proxy[ -]replacement|kubeproxyreplacement`)},
	{"native-routing", regexp.MustCompile(`(?i)native[ -]routing|routing-mode`)},
	{"jumbo-mtu", regexp.MustCompile(`(?i)\bmtu\b`)},
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
		out = append(out, Fallback{Line: line, Message: message, Phrase: phrase, Option: recogniseOption(message)})
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("scan agent log: %w", err)
	}
	return out, nil
}

// ForOption keeps the fallbacks that concern one option.
func ForOption(fallbacks []Fallback, option string) []Fallback {
	var out []Fallback
	for _, f := range fallbacks {
		if f.Option == option {
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

func recogniseOption(message string) string {
	for _, r := range optionRules {
		if r.re.MatchString(message) {
			return r.option
		}
	}
	return ""
}

func isDebug(line string) bool {
	l := strings.ToLower(line)
	return strings.Contains(l, "level=debug") || strings.Contains(l, `"level":"debug"`)
}
