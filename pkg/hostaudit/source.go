package hostaudit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
)

// Source reads the files of one machine that the audit looks at. Paths are
// absolute, as on the machine: /proc and /sys are the kernel's; /etc and
// /boot belong to the machine's root filesystem, which a Source may find
// elsewhere (a privileged pod sees the node's under /proc/1/root).
type Source interface {
	// Name labels the machine in findings ("host", "node worker-1").
	Name() string
	// ReadFile returns a file's content; a missing file returns an error
	// matching fs.ErrNotExist.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// ReadGlob returns the content of every readable file matching pattern
	// (shell glob syntax), keyed by path; no match is an empty map.
	ReadGlob(ctx context.Context, pattern string) (map[string][]byte, error)
	// ReadLinks returns the targets of the symbolic links matching pattern,
	// keyed by path.
	ReadLinks(ctx context.Context, pattern string) (map[string]string, error)
}

// rootFS marks paths of the machine's root filesystem (not /proc or /sys).
func rootFS(path string) bool {
	return strings.HasPrefix(path, "/etc/") || strings.HasPrefix(path, "/boot/")
}

// Dir is a Source over this process's filesystem, with every path looked
// up under Root ("" or "/" for this machine itself; a directory of
// fixture files in tests).
type Dir struct {
	Label string
	Root  string
}

// Host is the machine this process runs on.
func Host() Dir { return Dir{Label: "host"} }

func (d Dir) Name() string {
	if d.Label == "" {
		return "host"
	}
	return d.Label
}

func (d Dir) path(p string) string { return filepath.Join("/", d.Root, p) }

func (d Dir) ReadFile(_ context.Context, path string) ([]byte, error) {
	b, err := os.ReadFile(d.path(path))
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", d.Name(), path, err)
	}
	return b, nil
}

func (d Dir) ReadGlob(_ context.Context, pattern string) (map[string][]byte, error) {
	matches, err := filepath.Glob(d.path(pattern))
	if err != nil {
		return nil, fmt.Errorf("%s: glob %s: %w", d.Name(), pattern, err)
	}
	out := map[string][]byte{}
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue // a process that exited, a file we may not read
		}
		out[d.unroot(m)] = b
	}
	return out, nil
}

func (d Dir) ReadLinks(_ context.Context, pattern string) (map[string]string, error) {
	matches, err := filepath.Glob(d.path(pattern))
	if err != nil {
		return nil, fmt.Errorf("%s: glob %s: %w", d.Name(), pattern, err)
	}
	out := map[string]string{}
	for _, m := range matches {
		if t, err := os.Readlink(m); err == nil {
			out[d.unroot(m)] = t
		}
	}
	return out, nil
}

func (d Dir) unroot(p string) string {
	root := filepath.Join("/", d.Root)
	if root == "/" {
		return p
	}
	return "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
}

// Exec is a Source that runs `cat` and `sh` inside a machine through a
// probe.Runner: a node-access pod on an existing cluster (host PID
// namespace, so /proc lists the node's processes). FileRoot is where the
// machine's own root filesystem appears to the runner: "/proc/1/root" for
// such a pod, "" when the runner's filesystem is the machine's.
type Exec struct {
	Label    string
	Runner   probe.Runner
	FileRoot string
}

func (e Exec) Name() string { return e.Label }

func (e Exec) at(path string) string {
	if rootFS(path) && e.FileRoot != "" {
		return strings.TrimSuffix(e.FileRoot, "/") + path
	}
	return path
}

func (e Exec) ReadFile(ctx context.Context, path string) ([]byte, error) {
	out, err := e.Runner.Run(ctx, []string{"cat", e.at(path)})
	var ce *probe.CommandError
	if errors.As(err, &ce) && strings.Contains(ce.Stderr, "No such file") {
		return nil, fmt.Errorf("%s: read %s: %w", e.Label, path, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", e.Label, path, err)
	}
	return out, nil
}

// globScript prints "PATH<TAB>LINE" for every line of every matching
// file: one command for hundreds of small files (/proc/*/comm).
const globScript = `for f in $1; do [ -f "$f" ] || continue; while IFS= read -r l || [ -n "$l" ]; do printf '%s\t%s\n' "$f" "$l"; done < "$f" 2>/dev/null; done; true`

func (e Exec) ReadGlob(ctx context.Context, pattern string) (map[string][]byte, error) {
	out, err := e.Runner.Run(ctx, []string{"sh", "-c", globScript, "sh", e.at(pattern)})
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", e.Label, pattern, err)
	}
	files := map[string][]byte{}
	for path, line := range tabLines(out) {
		path = e.unroot(path)
		files[path] = append(files[path], line+"\n"...)
	}
	return files, nil
}

const linkScript = `for f in $1; do [ -L "$f" ] && printf '%s\t%s\n' "$f" "$(readlink "$f")"; done; true`

func (e Exec) ReadLinks(ctx context.Context, pattern string) (map[string]string, error) {
	out, err := e.Runner.Run(ctx, []string{"sh", "-c", linkScript, "sh", e.at(pattern)})
	if err != nil {
		return nil, fmt.Errorf("%s: read links %s: %w", e.Label, pattern, err)
	}
	links := map[string]string{}
	for path, target := range tabLines(out) {
		links[e.unroot(path)] = target
	}
	return links, nil
}

func (e Exec) unroot(p string) string {
	if e.FileRoot != "" {
		if rest, ok := strings.CutPrefix(p, strings.TrimSuffix(e.FileRoot, "/")); ok && rootFS(rest) {
			return rest
		}
	}
	return p
}

// tabLines yields "KEY<TAB>VALUE" lines in order.
func tabLines(out []byte) func(yield func(string, string) bool) {
	return func(yield func(string, string) bool) {
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "\t")
			if !ok {
				continue
			}
			if !yield(k, v) {
				return
			}
		}
	}
}
