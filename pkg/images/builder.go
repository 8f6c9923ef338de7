package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Builder produces the air-gapped images in the local Docker engine. Builds
// are incremental: each image carries InputsLabel, the hash of everything it
// is made from, and is skipped when an image with that hash exists.
type Builder struct {
	// CacheDir holds the work dirs (generated build modules, the writable
	// Cilium source copy, binaries, build contexts, logs); reused across runs.
	CacheDir string
	// RepoDir is the tunedcilium checkout (the workload image builds its
	// binaries from it; the node image takes hack/runc-wrap from it).
	RepoDir string
	// Out receives one progress line per step.
	Out io.Writer
	// Only limits the build to these images (and what they are built from).
	Only []string
	// Force rebuilds the selected images even when they are up to date.
	Force bool

	eng    *engine
	hashes map[string]string
	// built artifacts shared by several images, made once per run
	kubeBins, ciliumBins, ciliumSrc string
	steps                           []StepTiming
	current                         struct{ index, total int }
}

// StepTiming is one finished step, for the summary and docs/airgapped.md.
type StepTiming struct {
	Image, Step string
	Took        time.Duration
	Skipped     bool
}

// DefaultCacheDir is $TUNEDCILIUM_CACHE, else $XDG_CACHE_HOME/tunedcilium,
// else /var/cache/tunedcilium for root and ~/.cache/tunedcilium otherwise.
func DefaultCacheDir() string {
	if d := os.Getenv("TUNEDCILIUM_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "tunedcilium")
	}
	if os.Geteuid() == 0 {
		return "/var/cache/tunedcilium"
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "tunedcilium")
	}
	return filepath.Join(os.TempDir(), "tunedcilium-cache")
}

// Names lists the images the builder knows, in build order.
func Names() []string {
	var out []string
	for _, r := range recipes() {
		out = append(out, r.name)
	}
	return out
}

// Info describes one image for `tunedcilium images list`.
type Info struct {
	Name, Ref, About string
	// Present is true when the image exists in the Docker engine; UpToDate
	// when its inputs hash matches this build of tunedcilium.
	Present, UpToDate bool
	Inputs            string
}

// List reports every image and whether the Docker engine has it up to date.
func (b *Builder) List(ctx context.Context) ([]Info, error) {
	if err := b.open(ctx); err != nil {
		return nil, err
	}
	defer b.eng.Close()
	var out []Info
	for _, r := range recipes() {
		have, present, err := b.eng.inputsOf(ctx, r.ref)
		if err != nil {
			return nil, err
		}
		info := Info{Name: r.name, Ref: r.ref, About: r.about, Present: present}
		if h, err := b.hash(ctx, r.name); err != nil {
			info.Inputs = "unknown: " + err.Error()
		} else {
			info.Inputs, info.UpToDate = h[:12], present && have == h
		}
		out = append(out, info)
	}
	return out, nil
}

// Build builds the selected images (all by default) and what they are made
// from, skipping what is up to date. It returns the step timings.
func (b *Builder) Build(ctx context.Context) ([]StepTiming, error) {
	if err := b.open(ctx); err != nil {
		return nil, err
	}
	defer b.eng.Close()
	plan, err := b.plan()
	if err != nil {
		return nil, err
	}
	forced := map[string]bool{}
	if b.Force {
		for _, r := range plan {
			if len(b.Only) == 0 || slices.Contains(b.Only, r.name) {
				forced[r.name] = true
			}
		}
	}
	b.current.total = len(plan)
	for i, r := range plan {
		b.current.index = i + 1
		h, err := b.hash(ctx, r.name)
		if err != nil {
			return b.steps, err
		}
		have, present, err := b.eng.inputsOf(ctx, r.ref)
		if err != nil {
			return b.steps, err
		}
		if present && have == h && !forced[r.name] {
			b.printf("%s: up to date (%s, inputs %s)", r.name, r.ref, h[:12])
			b.steps = append(b.steps, StepTiming{Image: r.name, Step: "up to date", Skipped: true})
			continue
		}
		start := time.Now()
		if err := r.build(ctx, b, &job{b: b, r: r, hash: h}); err != nil {
			return b.steps, fmt.Errorf("build image %s (%s): %w", r.name, r.ref, err)
		}
		b.printf("%s: built %s in %s", r.name, r.ref, time.Since(start).Round(time.Second))
	}
	if freed, err := b.eng.pruneIntermediates(ctx); err != nil {
		return b.steps, err
	} else if freed > 0 {
		fmt.Fprintf(b.Out, "removed intermediate build images (%d MB)\n", freed>>20)
	}
	return b.steps, nil
}

func (b *Builder) open(ctx context.Context) error {
	for _, name := range b.Only {
		if findRecipe(name) == nil {
			return fmt.Errorf("unknown image %q in --only; known: %s", name, strings.Join(Names(), ","))
		}
	}
	if b.CacheDir == "" {
		b.CacheDir = DefaultCacheDir()
	}
	if b.Out == nil {
		b.Out = io.Discard
	}
	if b.RepoDir == "" {
		d, err := FindRepo()
		if err != nil {
			return err
		}
		b.RepoDir = d
	}
	for _, d := range []string{"logs", "context", "bin", "modules", "src", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(b.CacheDir, d), 0o755); err != nil {
			return fmt.Errorf("cache dir %s: %w (set TUNEDCILIUM_CACHE to a writable directory)", b.CacheDir, err)
		}
	}
	b.hashes = map[string]string{}
	eng, err := newEngine()
	if err != nil {
		return err
	}
	if err := eng.ping(ctx); err != nil {
		eng.Close()
		return err
	}
	b.eng = eng
	return nil
}

// plan is the selected recipes plus what they are built from, in build order.
func (b *Builder) plan() ([]*recipe, error) {
	all := recipes()
	if len(b.Only) == 0 {
		return all, nil
	}
	want := map[string]bool{}
	var add func(name string)
	add = func(name string) {
		if want[name] {
			return
		}
		want[name] = true
		r := findRecipe(name)
		if r.base != "" {
			add(r.base)
		}
		for _, d := range r.includes {
			add(d)
		}
	}
	for _, n := range b.Only {
		add(n)
	}
	var out []*recipe
	for _, r := range all {
		if want[r.name] {
			out = append(out, r)
		}
	}
	return out, nil
}

// hash is the inputs hash of the named image: its recipe's input lines, and
// the hashes of its base image and of the images it includes.
func (b *Builder) hash(ctx context.Context, name string) (string, error) {
	if h, ok := b.hashes[name]; ok {
		return h, nil
	}
	r := findRecipe(name)
	lines, err := r.inputs(ctx, b)
	if err != nil {
		return "", fmt.Errorf("inputs of image %s: %w", name, err)
	}
	s := sha256.New()
	fmt.Fprintf(s, "image %s\nref %s\ngo %s\n", r.name, r.ref, runtime.Version())
	for _, l := range lines {
		fmt.Fprintf(s, "%s\n", l)
	}
	deps := append([]string{}, r.includes...)
	if r.base != "" {
		deps = append(deps, r.base)
	}
	for _, d := range deps {
		h, err := b.hash(ctx, d)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(s, "from %s %s\n", d, h)
	}
	h := hex.EncodeToString(s.Sum(nil))
	b.hashes[name] = h
	return h, nil
}

func (b *Builder) printf(format string, args ...any) {
	fmt.Fprintf(b.Out, "[%d/%d] %s\n", b.current.index, b.current.total, fmt.Sprintf(format, args...))
}

// job is one image being built.
type job struct {
	b    *Builder
	r    *recipe
	hash string
}

// step runs one named step of the job, printing a line when it starts and
// one with its duration when it ends.
func (j *job) step(what string, fn func() error) error {
	j.b.printf("%s: %s ...", j.r.name, what)
	start := time.Now()
	if err := fn(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	took := time.Since(start)
	j.b.printf("%s: %s (%s)", j.r.name, what, took.Round(time.Second))
	j.b.steps = append(j.b.steps, StepTiming{Image: j.r.name, Step: what, Took: took})
	return nil
}

// labels are set on the built image.
func (j *job) labels() map[string]string {
	return map[string]string{InputsLabel: j.hash, "io.tunedcilium.image": j.r.name}
}

// contextDir is a fresh, empty build context for the job.
func (j *job) contextDir() (string, error) {
	d := filepath.Join(j.b.CacheDir, "context", j.r.name)
	if err := os.RemoveAll(d); err != nil {
		return "", err
	}
	return d, os.MkdirAll(d, 0o755)
}

func (j *job) logPath() string {
	return filepath.Join(j.b.CacheDir, "logs", j.r.name+".log")
}

// dockerBuild builds the job's context dir into its image.
func (j *job) dockerBuild(ctx context.Context, dir string) error {
	return j.step("docker build "+j.r.ref, func() error {
		logf, err := os.OpenFile(j.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer logf.Close()
		if err := j.b.eng.buildDir(ctx, dir, j.r.ref, j.labels(), logf); err != nil {
			return fmt.Errorf("%w (log: %s)", err, j.logPath())
		}
		return nil
	})
}

// FindRepo walks up from the working directory to the tunedcilium module.
func FindRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/tunedcilium/tunedcilium\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("not inside the tunedcilium checkout (from %s); run from the repository", dir)
		}
	}
}
