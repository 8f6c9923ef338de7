package probe

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// batchResult is one command's share of a batch: its stdout and exit code.
type batchResult struct {
	out  []byte
	code int
}

// runBatch runs several commands in one `sh -c` inside the node, so that
// an exec path paying 100-300 ms per exec (docker exec, a pod exec through
// the API server) pays it once. Each command's stdout is framed by marker
// lines carrying a random token; stderr is dropped, so callers re-run a
// failed command alone to learn why.
func runBatch(ctx context.Context, r Runner, cmds [][]string) ([]batchResult, error) {
	var tok [8]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	mark := "@@tunedcilium-" + hex.EncodeToString(tok[:])
	var script strings.Builder
	for i, argv := range cmds {
		quoted := make([]string, len(argv))
		for j, a := range argv {
			quoted[j] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		fmt.Fprintf(&script, "printf '%%s\\n' '%s begin %d'; %s 2>/dev/null; printf '\\n%%s %%d\\n' '%s end %d' $?\n",
			mark, i, strings.Join(quoted, " "), mark, i)
	}
	out, err := r.Run(ctx, []string{"sh", "-c", script.String()})
	if err != nil {
		return nil, fmt.Errorf("batch of %d commands: %w", len(cmds), err)
	}
	results := make([]batchResult, len(cmds))
	for i := range cmds {
		begin := []byte(fmt.Sprintf("%s begin %d\n", mark, i))
		end := []byte(fmt.Sprintf("\n%s end %d ", mark, i))
		b := bytes.Index(out, begin)
		e := bytes.Index(out, end)
		if b < 0 || e < b+len(begin)-1 {
			return nil, fmt.Errorf("batch: no output frame for %s", strings.Join(cmds[i], " "))
		}
		rest := out[e+len(end):]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("batch: no exit code for %s", strings.Join(cmds[i], " "))
		}
		code, err := strconv.Atoi(string(rest[:nl]))
		if err != nil {
			return nil, fmt.Errorf("batch: exit code %q for %s", rest[:nl], strings.Join(cmds[i], " "))
		}
		body := out[min(b+len(begin), e):e]
		results[i] = batchResult{out: bytes.Clone(body), code: code}
	}
	return results, nil
}
