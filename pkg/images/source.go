package images

import (
	"fmt"
	"os"

	"github.com/distribution/reference"
)

// Environment variables that give the defaults of the image flags.
const (
	EnvImages        = "TUNEDCILIUM_IMAGES"         // "local" or "registry"
	EnvCiliumImage   = "TUNEDCILIUM_CILIUM_IMAGE"   // REPO:TAG of an agent image
	EnvOperatorImage = "TUNEDCILIUM_OPERATOR_IMAGE" // REPO:TAG of an operator image
)

// ParseSource reads the image flags: mode is --images ("local": the images
// `tunedcilium images build` made; "registry" or "": the chart's defaults),
// ciliumImage and operatorImage are --cilium-image / --operator-image
// (REPO:TAG, a user's own build in the local Docker engine). Empty flags fall
// back to the environment variables above.
func ParseSource(mode, ciliumImage, operatorImage string) (Source, error) {
	mode = orDefault(mode, os.Getenv(EnvImages))
	ciliumImage = orDefault(ciliumImage, os.Getenv(EnvCiliumImage))
	operatorImage = orDefault(operatorImage, os.Getenv(EnvOperatorImage))
	var s Source
	switch mode {
	case "", "registry":
	case "local":
		s.Local = true
	default:
		return Source{}, fmt.Errorf("--images=%q (or $%s): use \"local\" (images from `make images`) or \"registry\"", mode, EnvImages)
	}
	for flag, ref := range map[string]string{"--cilium-image": ciliumImage, "--operator-image": operatorImage} {
		if ref == "" {
			continue
		}
		named, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			return Source{}, fmt.Errorf("%s=%q: not an image reference (%v); give REPO:TAG, e.g. localhost/cilium/cilium:dev", flag, ref, err)
		}
		if _, ok := named.(reference.Tagged); !ok {
			return Source{}, fmt.Errorf("%s=%q: give a tag (REPO:TAG): the chart is pointed at it without a digest", flag, ref)
		}
	}
	s.CiliumImage, s.OperatorImage = ciliumImage, operatorImage
	return s, nil
}

// Source says where Cilium's images come from for a run.
type Source struct {
	// Local uses the images `tunedcilium images build` made (--images=local).
	Local bool
	// CiliumImage and OperatorImage override the agent and operator images
	// (--cilium-image REPO:TAG): a user's own Cilium build.
	CiliumImage   string
	OperatorImage string
}

// Agent returns the agent image the source points at, or "" for the chart's
// default (a registry image).
func (s Source) Agent() string {
	if s.CiliumImage != "" {
		return s.CiliumImage
	}
	if s.Local {
		return CiliumImage
	}
	return ""
}

// Operator returns the operator image the source points at, or "".
func (s Source) Operator() string {
	if s.OperatorImage != "" {
		return s.OperatorImage
	}
	if s.Local {
		return OperatorImage
	}
	return ""
}

// HelmValues returns the Cilium chart values that point the agent and the
// operator at the source's images: `image.override` and
// `operator.image.override` (the chart then uses the name as given, without
// its -generic suffix logic or a digest), `useDigest: false` and
// `pullPolicy: Never` (the images are in the nodes already; nothing can be
// pulled). The local image set has no Envoy image, so the Envoy DaemonSet and
// the L7 proxy are turned off with it. Nil when the chart's defaults apply.
func (s Source) HelmValues() map[string]any {
	agent, operator := s.Agent(), s.Operator()
	if agent == "" && operator == "" {
		return nil
	}
	values := map[string]any{}
	if agent != "" {
		values["image"] = map[string]any{
			"override": agent, "useDigest": false, "pullPolicy": "Never",
		}
	}
	if operator != "" {
		values["operator"] = map[string]any{"image": map[string]any{
			"override": operator, "useDigest": false, "pullPolicy": "Never",
		}}
	}
	if s.Local {
		values["envoy"] = map[string]any{"enabled": false}
		values["l7Proxy"] = false
	}
	return values
}

// NodeLoad lists the images a run loads into every node: the agent and the
// operator (either can land on any node) and the suite's workload image. The
// kubeadm images are preloaded in the node image already.
func (s Source) NodeLoad() []string {
	var out []string
	if a := s.Agent(); a != "" {
		out = append(out, a)
	}
	if o := s.Operator(); o != "" {
		out = append(out, o)
	}
	if s.Local {
		out = append(out, WorkloadImage)
	}
	return out
}
