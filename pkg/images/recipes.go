package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// recipe says how one image is made.
type recipe struct {
	name, ref, about string
	// base is the recipe whose image this one starts FROM ("" for scratch
	// or a rootfs import).
	base string
	// includes are recipes whose images end up inside this one (the node
	// preloads kubeadm's images).
	includes []string
	// inputs are the lines hashed into the image's inputs label, besides the
	// hashes of base and includes.
	inputs func(ctx context.Context, b *Builder) ([]string, error)
	build  func(ctx context.Context, b *Builder, j *job) error
}

func findRecipe(name string) *recipe {
	for _, r := range recipes() {
		if r.name == name {
			return r
		}
	}
	return nil
}

// recipes lists every image in build order.
func recipes() []*recipe {
	return []*recipe{
		rootfsRecipe("rootfs-nettools", "Debian network tools: base of kube-proxy, operator, workload", netToolsPackages),
		rootfsRecipe("rootfs-cilium", "Debian with clang/llc 19 and the tools the agent runs: base of the agent", ciliumPackages),
		rootfsRecipe("rootfs-node", "Debian with systemd, containerd, runc, CNI plugins: base of the kind node", nodePackages),
		staticRecipe("pause", PauseImage, []string{"/pause"}, pauseBinary),
		staticRecipe("etcd", EtcdImage, nil, etcdBinary),
		staticRecipe("kube-apiserver", KubeAPIServerImage, nil, kubernetesBinary("kube-apiserver")),
		staticRecipe("kube-controller-manager", KubeControllerManagerImage, nil, kubernetesBinary("kube-controller-manager")),
		staticRecipe("kube-scheduler", KubeSchedulerImage, nil, kubernetesBinary("kube-scheduler")),
		kubeProxyRecipe(),
		staticRecipe("coredns", CoreDNSImage, []string{"/coredns"}, coreDNSBinary),
		nodeRecipe(),
		ciliumRecipe(),
		operatorRecipe(),
		workloadRecipe(),
	}
}

// --- Debian root filesystems -------------------------------------------

func rootfsRef(name string) string {
	return "localhost/tunedcilium/" + name + ":" + DebianSuite
}

// mmdebstrapArgs builds a minimal Debian with the packages, without docs.
func mmdebstrapArgs(packages []string, out string) []string {
	return []string{
		"--variant=minbase", "--mode=root", "--format=tar",
		"--include=" + strings.Join(packages, ","),
		"--dpkgopt=path-exclude=/usr/share/doc/*",
		"--dpkgopt=path-exclude=/usr/share/man/*",
		"--dpkgopt=path-exclude=/usr/share/locale/*",
		"--aptopt=APT::Install-Recommends \"false\"",
		DebianSuite, out,
	}
}

func rootfsRecipe(name, about string, packages []string) *recipe {
	return &recipe{
		name: name, ref: rootfsRef(name), about: about,
		inputs: func(context.Context, *Builder) ([]string, error) {
			return append([]string{"mmdebstrap"}, mmdebstrapArgs(packages, "OUT")...), nil
		},
		build: func(ctx context.Context, b *Builder, j *job) error {
			if _, err := exec.LookPath("mmdebstrap"); err != nil {
				return fmt.Errorf("mmdebstrap not found; install it: apt-get install -y mmdebstrap (or make deps)")
			}
			tar := filepath.Join(b.CacheDir, "rootfs", name+".tar")
			defer os.Remove(tar)
			err := j.step(fmt.Sprintf("mmdebstrap %s, %d packages", DebianSuite, len(packages)), func() error {
				return runLogged(ctx, b.CacheDir, j.logPath(), os.Environ(), "mmdebstrap", mmdebstrapArgs(packages, tar)...)
			})
			if err != nil {
				return err
			}
			return j.step("docker import "+j.r.ref, func() error {
				return b.eng.importTarFile(ctx, tar, j.r.ref, []string{
					"LABEL " + InputsLabel + "=" + j.hash,
					"LABEL io.tunedcilium.image=" + name,
					"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				})
			})
		},
	}
}

// --- FROM scratch images holding one static Go binary --------------------

// binarySource builds one static binary and says what it is made from.
type binarySource struct {
	// inputs are hashed into the image's inputs.
	inputs func(ctx context.Context, b *Builder) ([]string, error)
	// build writes the binary and returns its path.
	build func(ctx context.Context, b *Builder, j *job) (string, error)
	// path is where the binary sits in the image.
	path string
}

func staticRecipe(name, ref string, entrypoint []string, src binarySource) *recipe {
	dockerfile := "FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/bin:/usr/bin:/bin\n"
	if entrypoint != nil {
		dockerfile += fmt.Sprintf("ENTRYPOINT [%q]\n", entrypoint[0])
	}
	return &recipe{
		name: name, ref: ref, about: "static Go binary " + src.path + ", FROM scratch",
		inputs: func(ctx context.Context, b *Builder) ([]string, error) {
			in, err := src.inputs(ctx, b)
			return append(in, "Dockerfile:\n"+dockerfile, "binary at "+src.path), err
		},
		build: func(ctx context.Context, b *Builder, j *job) error {
			bin, err := src.build(ctx, b, j)
			if err != nil {
				return err
			}
			dir, err := j.contextDir()
			if err != nil {
				return err
			}
			if err := staticRootfs(filepath.Join(dir, "rootfs")); err != nil {
				return err
			}
			if err := copyFile(bin, filepath.Join(dir, "rootfs", src.path), 0o755); err != nil {
				return err
			}
			if err := writeFiles(dir, map[string]string{"Dockerfile": dockerfile}); err != nil {
				return err
			}
			return j.dockerBuild(ctx, dir)
		},
	}
}

// goModuleBinary builds the main package of a generated module.
func goModuleBinary(name, module, goVersion, require, main, path string) binarySource {
	return binarySource{
		path: path,
		inputs: func(context.Context, *Builder) ([]string, error) {
			return []string{"module " + module, "require " + require, "main.go:\n" + main, "go build -trimpath -ldflags=-s -w"}, nil
		},
		build: func(ctx context.Context, b *Builder, j *job) (string, error) {
			dir := filepath.Join(b.CacheDir, "modules", name)
			out := filepath.Join(b.CacheDir, "bin", name)
			err := j.step("go build "+name+" ("+strings.TrimSpace(orDefault(require, module))+")", func() error {
				if err := writeModule(dir, module, goVersion, require, main); err != nil {
					return err
				}
				return runLogged(ctx, dir, j.logPath(), goEnv(), goBinary(), "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
			})
			return out, err
		},
	}
}

func orDefault(s, d string) string {
	if s != "" {
		return s
	}
	return d
}

var (
	pauseBinary   = goModuleBinary("pause", "tunedcilium.local/pause", "1.24", "", pauseMain, "/pause")
	etcdBinary    = goModuleBinary("etcd", "tunedcilium.local/etcd", "1.24", "go.etcd.io/etcd/server/v3 "+EtcdModuleVersion, etcdMain, "/usr/local/bin/etcd")
	coreDNSBinary = goModuleBinary("coredns", "tunedcilium.local/coredns", "1.25.0", "github.com/coredns/coredns "+CoreDNSModuleVersion, coreDNSMain, "/coredns")
)

// kubernetesBinary is one of the Kubernetes commands, all built together.
func kubernetesBinary(command string) binarySource {
	return binarySource{
		path:   "/usr/local/bin/" + command,
		inputs: kubernetesInputs,
		build: func(ctx context.Context, b *Builder, j *job) (string, error) {
			dir, err := b.buildKubernetes(ctx, j)
			return filepath.Join(dir, command), err
		},
	}
}

func kubernetesInputs(context.Context, *Builder) ([]string, error) {
	return []string{"k8s.io/kubernetes " + KubernetesVersion, "staging " + KubernetesStagingVersion,
		"ldflags " + kubernetesLDFlags(), "commands " + strings.Join(kubernetesCommands, ",")}, nil
}

// buildKubernetes builds every Kubernetes command once per run into
// bin/kubernetes-VERSION (skipped when a stamp says the same inputs built
// them) and returns that directory.
func (b *Builder) buildKubernetes(ctx context.Context, j *job) (string, error) {
	if b.kubeBins != "" {
		return b.kubeBins, nil
	}
	out := filepath.Join(b.CacheDir, "bin", "kubernetes-"+KubernetesVersion)
	in, _ := kubernetesInputs(ctx, b)
	if stampOK(out, in) {
		b.kubeBins = out
		return out, nil
	}
	var pkgs []string
	for _, c := range kubernetesCommands {
		pkgs = append(pkgs, "k8s.io/kubernetes/cmd/"+c)
	}
	err := j.step("go build k8s.io/kubernetes/cmd/{"+strings.Join(kubernetesCommands, ",")+"}", func() error {
		src, err := moduleDir(ctx, "k8s.io/kubernetes", KubernetesVersion)
		if err != nil {
			return err
		}
		kgomod, err := os.ReadFile(filepath.Join(src, "go.mod"))
		if err != nil {
			return err
		}
		gomod, err := kubernetesBuildGoMod(kgomod)
		if err != nil {
			return err
		}
		dir := filepath.Join(b.CacheDir, "modules", "kubernetes")
		if err := writeGeneratedGoMod(dir, gomod); err != nil {
			return err
		}
		args := append([]string{"build", "-trimpath", "-ldflags=" + kubernetesLDFlags(), "-o", out + "/"}, pkgs...)
		if err := runLogged(ctx, dir, j.logPath(), goEnv(), goBinary(), args...); err != nil {
			return err
		}
		return writeStamp(out, in)
	})
	if err != nil {
		return "", err
	}
	b.kubeBins = out
	return out, nil
}

// writeGeneratedGoMod writes a generated go.mod unless the one there was
// generated from the same text (go may have added requirements to it since).
func writeGeneratedGoMod(dir, gomod string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	marker := filepath.Join(dir, "go.mod.generated")
	if old, err := os.ReadFile(marker); err == nil && string(old) == gomod {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return nil
		}
	}
	_ = os.Remove(filepath.Join(dir, "go.sum"))
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		return err
	}
	return os.WriteFile(marker, []byte(gomod), 0o644)
}

// stampOK says whether dir holds binaries built from exactly these inputs.
func stampOK(dir string, inputs []string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ".inputs"))
	return err == nil && string(b) == strings.Join(inputs, "\n")
}

func writeStamp(dir string, inputs []string) error {
	return os.WriteFile(filepath.Join(dir, ".inputs"), []byte(strings.Join(inputs, "\n")), 0o644)
}

// --- kube-proxy: needs iptables, so a Debian base -------------------------

func kubeProxyRecipe() *recipe {
	const dockerfile = "FROM " + "{{base}}" + "\nCOPY rootfs/ /\n"
	df := strings.ReplaceAll(dockerfile, "{{base}}", rootfsRef("rootfs-nettools"))
	return &recipe{
		name: "kube-proxy", ref: KubeProxyImage, base: "rootfs-nettools",
		about: "kube-proxy on the network-tools rootfs (it runs iptables)",
		inputs: func(ctx context.Context, b *Builder) ([]string, error) {
			in, err := kubernetesInputs(ctx, b)
			return append(in, "Dockerfile:\n"+df), err
		},
		build: func(ctx context.Context, b *Builder, j *job) error {
			bins, err := b.buildKubernetes(ctx, j)
			if err != nil {
				return err
			}
			dir, err := j.contextDir()
			if err != nil {
				return err
			}
			if err := copyFile(filepath.Join(bins, "kube-proxy"), filepath.Join(dir, "rootfs/usr/local/bin/kube-proxy"), 0o755); err != nil {
				return err
			}
			if err := writeFiles(dir, map[string]string{"Dockerfile": df}); err != nil {
				return err
			}
			return j.dockerBuild(ctx, dir)
		},
	}
}
