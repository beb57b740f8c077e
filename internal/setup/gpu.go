package setup

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/launcher"
)

// GPUMode is how GPU support is answered: the value of an adapter's --gpu
// flag.
type GPUMode string

// The modes of ParseGPUMode.
const (
	// GPUDefault (no --gpu) is GPUAuto when the SDK finds AWS credentials,
	// else GPUCatalog.
	GPUDefault GPUMode = ""
	// GPUAuto asks EC2 (DescribeInstanceTypes in app.region), and needs AWS
	// credentials.
	GPUAuto GPUMode = "auto"
	// GPUCatalog answers from gpu's offline catalog.
	GPUCatalog GPUMode = "catalog"
	// GPUTrue and GPUFalse force the answer for every instance type.
	GPUTrue  GPUMode = "true"
	GPUFalse GPUMode = "false"
)

// GPUUsage documents a --gpu flag read with ParseGPUMode.
const GPUUsage = "GPU support: auto (ask EC2 in app.region), catalog (offline list), true or false " +
	"(default auto when AWS credentials are configured, else catalog)"

// ParseGPUMode reads the value of a --gpu flag.
func ParseGPUMode(s string) (GPUMode, error) {
	switch m := GPUMode(s); m {
	case GPUDefault, GPUAuto, GPUCatalog, GPUTrue, GPUFalse:
		return m, nil
	}
	return "", fmt.Errorf("--gpu %q: want auto, catalog, true or false", s)
}

// SourceFlag is the gpu.Info.Source of an answer forced with GPUTrue or
// GPUFalse.
const SourceFlag gpu.Source = "flag"

// GPU is the detector a mode stands for.
type GPU struct {
	Detector launcher.GPUDetector
	// NoCredentials is, in GPUDefault, why the SDK found no AWS
	// credentials; Detector is then gpu.Catalog, and the adapter says so
	// (with gpu.CatalogDate). It is nil otherwise.
	NoCredentials error
}

// ChooseGPU returns the detector for mode. GPUDefault and GPUAuto probe
// the credentials with a.Credentials; GPUAuto fails without them, naming
// the way to work offline. A detector that asks EC2 is a *gpu.Detector in
// a.Region (app.region), which caches its answers: build one per process.
// If ctx ends during the probe, the error matches ctx.Err().
func ChooseGPU(ctx context.Context, mode GPUMode, a *AWS) (GPU, error) {
	switch mode {
	case GPUCatalog:
		return GPU{Detector: gpu.Catalog{}}, nil
	case GPUTrue, GPUFalse:
		return GPU{Detector: forced(mode == GPUTrue)}, nil
	case GPUDefault, GPUAuto:
	default:
		_, err := ParseGPUMode(string(mode))
		return GPU{}, err
	}
	cfg, err := a.Credentials(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		return GPU{}, err
	case err != nil && mode == GPUAuto:
		return GPU{}, fmt.Errorf("--gpu auto needs AWS credentials: %w (use --gpu catalog to work offline)", err)
	case err != nil:
		return GPU{Detector: gpu.Catalog{}, NoCredentials: err}, nil
	}
	return GPU{Detector: gpu.NewDetector(ec2.NewFromConfig(cfg), &gpu.Options{Region: a.Region})}, nil
}

// forced answers what --gpu true or false says, for every type.
type forced bool

func (f forced) Detect(_ context.Context, instanceType string) (gpu.Info, error) {
	info := gpu.Info{InstanceType: instanceType, Source: SourceFlag}
	if f {
		info.GPUs = []gpu.GPU{{Manufacturer: "NVIDIA", Name: "(forced by --gpu true)", Count: 1}}
	}
	return info, nil
}
