package images

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The agent image follows Cilium's own images/cilium/Dockerfile: the
// binaries, the CNI scripts, init-container.sh and the bpf/ tree on a
// runtime rootfs with clang/llc (here Debian's 19, the LLVM Cilium ships).
var ciliumDockerfile = "FROM " + rootfsRef("rootfs-cilium") + `
COPY rootfs/ /
RUN ln -sf /usr/bin/clang-19 /usr/bin/clang && ln -sf /usr/bin/llc-19 /usr/bin/llc \
 && mkdir -p /cni /home/cilium && cp /usr/lib/cni/loopback /cni/loopback \
 && clang --version >/dev/null && llc --version >/dev/null && cilium-agent --help >/dev/null
ENV HUBBLE_SERVER=unix:///var/run/cilium/hubble.sock INITSYSTEM=SYSTEMD
WORKDIR /home/cilium
CMD ["/usr/bin/cilium-dbg"]
`

var operatorDockerfile = "FROM " + rootfsRef("rootfs-nettools") + `
COPY rootfs/ /
RUN cilium-operator-generic --help >/dev/null
CMD ["/usr/bin/cilium-operator-generic"]
`

// ciliumScripts are copied from the module to the image root.
var ciliumScripts = map[string]string{
	"plugins/cilium-cni/install-plugin.sh": "install-plugin.sh",
	"plugins/cilium-cni/cni-uninstall.sh":  "cni-uninstall.sh",
	"images/cilium/init-container.sh":      "init-container.sh",
}

func ciliumInputs(context.Context, *Builder) ([]string, error) {
	var cmds []string
	for _, c := range ciliumAgentCommands {
		cmds = append(cmds, c.pkg+"="+c.dir+"/"+c.name)
	}
	return []string{"github.com/cilium/cilium " + CiliumVersion, "replace " + CiliumGoBGPReplacement,
		"ldflags " + ciliumLDFlags(), "agent " + strings.Join(cmds, ",")}, nil
}

func ciliumRecipe() *recipe {
	return &recipe{
		name: "cilium", ref: CiliumImage, base: "rootfs-cilium",
		about: "cilium-agent " + CiliumVersion + " built from its module, with clang/llc 19 and bpf/",
		inputs: func(ctx context.Context, b *Builder) ([]string, error) {
			in, err := ciliumInputs(ctx, b)
			return append(in, "Dockerfile:\n"+ciliumDockerfile, fmt.Sprint(ciliumScripts)), err
		},
		build: func(ctx context.Context, b *Builder, j *job) error {
			src, err := b.ciliumSource(ctx, j)
			if err != nil {
				return err
			}
			bins, err := b.buildCiliumAgent(ctx, j, src)
			if err != nil {
				return err
			}
			dir, err := j.contextDir()
			if err != nil {
				return err
			}
			root := filepath.Join(dir, "rootfs")
			err = j.step("assemble rootfs (binaries, scripts, bpf/)", func() error {
				for _, c := range ciliumAgentCommands {
					if err := copyFile(filepath.Join(bins, c.name), filepath.Join(root, c.dir, c.name), 0o755); err != nil {
						return err
					}
				}
				for from, to := range ciliumScripts {
					if err := copyFile(filepath.Join(src, from), filepath.Join(root, to), 0o755); err != nil {
						return err
					}
				}
				return copyTree(filepath.Join(src, "bpf"), filepath.Join(root, "var/lib/cilium/bpf"), func(string) os.FileMode { return 0o644 })
			})
			if err != nil {
				return err
			}
			if err := writeFiles(dir, map[string]string{"Dockerfile": ciliumDockerfile}); err != nil {
				return err
			}
			return j.dockerBuild(ctx, dir)
		},
	}
}

func operatorRecipe() *recipe {
	return &recipe{
		name: "operator", ref: OperatorImage, base: "rootfs-nettools",
		about: "cilium-operator-generic " + CiliumVersion + " built from its module",
		inputs: func(ctx context.Context, b *Builder) ([]string, error) {
			in, err := ciliumInputs(ctx, b)
			return append(in, "operator -tags ipam_provider_operator", "mcs-api stand-in:\n"+mcsAPIControllersStandIn, "Dockerfile:\n"+operatorDockerfile), err
		},
		build: func(ctx context.Context, b *Builder, j *job) error {
			src, err := b.ciliumSource(ctx, j)
			if err != nil {
				return err
			}
			bin, err := b.buildCiliumOperator(ctx, j, src)
			if err != nil {
				return err
			}
			dir, err := j.contextDir()
			if err != nil {
				return err
			}
			if err := copyFile(bin, filepath.Join(dir, "rootfs/usr/bin/cilium-operator-generic"), 0o755); err != nil {
				return err
			}
			if err := writeFiles(dir, map[string]string{"Dockerfile": operatorDockerfile}); err != nil {
				return err
			}
			return j.dockerBuild(ctx, dir)
		},
	}
}

// ciliumSource is a writable copy of the Cilium module (src/cilium-VERSION)
// with gobgp replaced by a served version; made once and reused.
func (b *Builder) ciliumSource(ctx context.Context, j *job) (string, error) {
	if b.ciliumSrc != "" {
		return b.ciliumSrc, nil
	}
	dst := filepath.Join(b.CacheDir, "src", "cilium-"+CiliumVersion)
	ready := filepath.Join(dst, ".tunedcilium-ready")
	if _, err := os.Stat(ready); err == nil {
		b.ciliumSrc = dst
		return dst, nil
	}
	err := j.step("copy github.com/cilium/cilium@"+CiliumVersion+" to a writable dir, replace gobgp", func() error {
		mod, err := moduleDir(ctx, "github.com/cilium/cilium", CiliumVersion)
		if err != nil {
			return err
		}
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
		if err := runLogged(ctx, b.CacheDir, j.logPath(), os.Environ(), "cp", "-r", mod, dst); err != nil {
			return err
		}
		if err := runLogged(ctx, b.CacheDir, j.logPath(), os.Environ(), "chmod", "-R", "u+w", dst); err != nil {
			return err
		}
		if err := runLogged(ctx, dst, j.logPath(), goEnv(), goBinary(), "mod", "edit", "-replace", "github.com/osrg/gobgp/v4="+CiliumGoBGPReplacement); err != nil {
			return err
		}
		return os.WriteFile(ready, nil, 0o644)
	})
	if err != nil {
		return "", err
	}
	b.ciliumSrc = dst
	return dst, nil
}

// buildCiliumAgent builds the agent image's binaries into bin/cilium-VERSION.
func (b *Builder) buildCiliumAgent(ctx context.Context, j *job, src string) (string, error) {
	if b.ciliumBins != "" {
		return b.ciliumBins, nil
	}
	out := filepath.Join(b.CacheDir, "bin", "cilium-"+CiliumVersion)
	in, _ := ciliumInputs(ctx, b)
	if stampOK(out, in) {
		b.ciliumBins = out
		return out, nil
	}
	var pkgs []string
	for _, c := range ciliumAgentCommands {
		pkgs = append(pkgs, c.pkg)
	}
	err := j.step("go build "+strings.Join(pkgs, " "), func() error {
		tmp := out + ".tmp"
		if err := os.RemoveAll(tmp); err != nil {
			return err
		}
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return err
		}
		args := append([]string{"build", "-trimpath", "-ldflags=" + ciliumLDFlags(), "-o", tmp + "/"}, pkgs...)
		if err := runLogged(ctx, src, j.logPath(), goEnv(), goBinary(), args...); err != nil {
			return err
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		for _, c := range ciliumAgentCommands {
			if err := os.Rename(filepath.Join(tmp, filepath.Base(c.pkg)), filepath.Join(out, c.name)); err != nil {
				return err
			}
		}
		_ = os.RemoveAll(tmp)
		return writeStamp(out, in)
	})
	if err != nil {
		return "", err
	}
	b.ciliumBins = out
	return out, nil
}

// buildCiliumOperator builds cilium-operator-generic with a private modfile
// that points sigs.k8s.io/mcs-api/controllers at a local stand-in, leaving
// Cilium's own go.mod as it is.
func (b *Builder) buildCiliumOperator(ctx context.Context, j *job, src string) (string, error) {
	out := filepath.Join(b.CacheDir, "bin", "cilium-operator-generic-"+CiliumVersion)
	err := j.step("go build -tags ipam_provider_operator ./operator", func() error {
		standIn := filepath.Join(b.CacheDir, "modules", "mcs-api-controllers")
		if err := writeFiles(standIn, map[string]string{
			"go.mod":         "// Generated by tunedcilium pkg/images.\nmodule sigs.k8s.io/mcs-api/controllers\n\ngo 1.24\n",
			"controllers.go": mcsAPIControllersStandIn,
		}); err != nil {
			return err
		}
		gomod, err := os.ReadFile(filepath.Join(src, "go.mod"))
		if err != nil {
			return err
		}
		gosum, err := os.ReadFile(filepath.Join(src, "go.sum"))
		if err != nil {
			return err
		}
		modfile := filepath.Join(src, "operator.tunedcilium.mod")
		if err := os.WriteFile(modfile, gomod, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(strings.TrimSuffix(modfile, ".mod")+".sum", gosum, 0o644); err != nil {
			return err
		}
		if err := runLogged(ctx, src, j.logPath(), goEnv(), goBinary(), "mod", "edit", "-modfile="+modfile, "-replace", "sigs.k8s.io/mcs-api/controllers="+standIn); err != nil {
			return err
		}
		return runLogged(ctx, src, j.logPath(), goEnv(), goBinary(), "build", "-modfile="+modfile, "-tags=ipam_provider_operator",
			"-trimpath", "-ldflags="+ciliumLDFlags(), "-o", out, "./operator")
	})
	return out, err
}
