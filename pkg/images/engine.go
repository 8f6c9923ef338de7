package images

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/jsonmessage"
	archive "github.com/moby/go-archive"
)

// engine is the local Docker engine, reached with the Docker Go client.
type engine struct {
	c *client.Client
}

func newEngine() (*engine, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &engine{c: c}, nil
}

func (e *engine) Close() error { return e.c.Close() }

// ping fails with a hint when no Docker engine answers.
func (e *engine) ping(ctx context.Context) error {
	if _, err := e.c.Ping(ctx); err != nil {
		return fmt.Errorf("no Docker engine answers (%v); run `make env` (root) to set it up", err)
	}
	return nil
}

// inputsOf returns the inputs hash label of ref, and whether ref exists.
func (e *engine) inputsOf(ctx context.Context, ref string) (string, bool, error) {
	info, err := e.c.ImageInspect(ctx, ref)
	if errdefs.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	if info.Config == nil {
		return "", true, nil
	}
	return info.Config.Labels[InputsLabel], true, nil
}

// importTarFile turns a rootfs tarball into the image ref, with Dockerfile
// instructions (LABEL, ENV, ...) applied.
func (e *engine) importTarFile(ctx context.Context, path, ref string, changes []string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rc, err := e.c.ImageImport(ctx, image.ImportSource{Source: f, SourceName: "-"}, ref, image.ImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("import %s as %s: %w", path, ref, err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("import %s as %s: %w", path, ref, err)
	}
	return nil
}

// buildDir runs a Dockerfile build (the classic builder: no registry is
// involved when every FROM names a local image or scratch) with contextDir as
// the build context, tags it ref and sets labels. The build's output goes to
// log.
func (e *engine) buildDir(ctx context.Context, contextDir, ref string, labels map[string]string, log io.Writer) error {
	tar, err := archive.TarWithOptions(contextDir, &archive.TarOptions{})
	if err != nil {
		return fmt.Errorf("tar build context %s: %w", contextDir, err)
	}
	defer tar.Close()
	resp, err := e.c.ImageBuild(ctx, tar, build.ImageBuildOptions{
		Tags:        []string{ref},
		Labels:      labels,
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", ref, err)
	}
	defer resp.Body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, log, 0, false, nil); err != nil {
		return fmt.Errorf("build %s: %w", ref, err)
	}
	return nil
}

// saveTo writes `docker save refs...` to path.
func (e *engine) saveTo(ctx context.Context, path string, refs ...string) error {
	rc, err := e.c.ImageSave(ctx, refs)
	if err != nil {
		return fmt.Errorf("save %v: %w", refs, err)
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("save %v to %s: %w", refs, path, err)
	}
	return f.Close()
}

// pruneIntermediates removes the untagged stage images multi-stage builds
// leave (they inherit the rootfs label), and returns the bytes reclaimed.
func (e *engine) pruneIntermediates(ctx context.Context) (uint64, error) {
	rep, err := e.c.ImagesPrune(ctx, filters.NewArgs(filters.Arg("dangling", "true"), filters.Arg("label", "io.tunedcilium.image")))
	if err != nil {
		return 0, fmt.Errorf("prune intermediate build images: %w", err)
	}
	return rep.SpaceReclaimed, nil
}
