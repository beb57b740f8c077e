package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/launcher"
)

const gpuFlagUsage = "GPU support: auto (ask EC2), catalog (offline list), true or false (default auto when AWS credentials are configured, else catalog)"

// credentialsProbeTimeout bounds the default-mode credential check, which
// may end in the EC2 instance metadata service on a machine that is not an
// EC2 instance.
const credentialsProbeTimeout = 10 * time.Second

// awsConfig loads the SDK's standard configuration chain (environment,
// shared files, instance metadata) for region and checks that it yields
// credentials.
func awsConfig(ctx context.Context, region string) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return aws.Config{}, err
	}
	if cfg.Credentials == nil {
		return aws.Config{}, errors.New("no credentials provider")
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return aws.Config{}, err
	}
	return cfg, nil
}

// chooseDetector returns the GPU detector for mode (the --gpu flag, "" when
// not given). Without --gpu it asks EC2 when AWS credentials are available
// and otherwise falls back to the offline catalog, saying so on stderr
// prefixed with cmd.
func chooseDetector(ctx context.Context, mode string, cfg lablink.Config, stderr io.Writer, cmd string) (launcher.GPUDetector, error) {
	switch mode {
	case "":
		pctx, cancel := context.WithTimeout(ctx, credentialsProbeTimeout)
		defer cancel()
		awsCfg, err := awsConfig(pctx, cfg.App.Region)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			fmt.Fprintf(stderr, "%s: no AWS credentials; GPU support from the offline catalog taken %s\n", cmd, gpu.CatalogDate())
			return gpu.Catalog{}, nil
		}
		return ec2Detector(awsCfg, cfg), nil
	case "auto":
		awsCfg, err := awsConfig(ctx, cfg.App.Region)
		if err != nil {
			return nil, fmt.Errorf("--gpu auto needs AWS credentials: %w (use --gpu catalog to work offline)", err)
		}
		return ec2Detector(awsCfg, cfg), nil
	case "catalog":
		return gpu.Catalog{}, nil
	case "true":
		return fixedDetector(true), nil
	case "false":
		return fixedDetector(false), nil
	}
	return nil, invalidf("--gpu %q: want auto, catalog, true or false", mode)
}

func ec2Detector(awsCfg aws.Config, cfg lablink.Config) *gpu.Detector {
	return gpu.NewDetector(ec2.NewFromConfig(awsCfg), &gpu.Options{Region: cfg.App.Region})
}

// sourceFlag marks a GPU answer forced with --gpu true or false.
const sourceFlag gpu.Source = "flag"

// fixedDetector answers what --gpu true or false says, for every type.
type fixedDetector bool

func (f fixedDetector) Detect(ctx context.Context, instanceType string) (gpu.Info, error) {
	info := gpu.Info{InstanceType: instanceType, Source: sourceFlag}
	if f {
		info.GPUs = []gpu.GPU{{Manufacturer: "NVIDIA", Name: "(forced by --gpu true)", Count: 1}}
	}
	return info, nil
}

// trackedDetector remembers the error of the last Detect call, so an error
// from launcher.Resolve can be told apart: a GPU lookup failure is either
// an unknown instance type (invalid input) or a failure of the API, while
// every other Resolve error is a problem with the config or environment.
type trackedDetector struct {
	d launcher.GPUDetector

	mu  sync.Mutex
	err error
}

func (t *trackedDetector) Detect(ctx context.Context, instanceType string) (gpu.Info, error) {
	info, err := t.d.Detect(ctx, instanceType)
	t.mu.Lock()
	t.err = err
	t.mu.Unlock()
	return info, err
}

func (t *trackedDetector) lastErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// resolveError turns an error of launcher.Resolve into the CLI's answer.
func resolveError(ctx context.Context, err error, t *trackedDetector, cfg lablink.Config) error {
	gerr := t.lastErr()
	switch {
	case gerr == nil || !errors.Is(err, gerr):
		return invalid(err)
	case errors.Is(err, gpu.ErrUnknownInstanceType):
		return invalidf("machine.machine_type %q: %w", cfg.Machine.MachineType, err)
	case ctx.Err() != nil:
		return err
	}
	return fmt.Errorf("cannot tell whether %s has a GPU, and gpu_support is never guessed: %w\n"+
		"retry, or pass --gpu catalog, --gpu true or --gpu false", cfg.Machine.MachineType, err)
}

// describeGPU is a short description of a GPU answer for summaries:
// "true (ec2-api)", "false (catalog 2026-11-25)".
func describeGPU(info gpu.Info) string {
	src := string(info.Source)
	if info.Source == gpu.SourceCatalog && info.CatalogDate != "" {
		src += " " + info.CatalogDate
	}
	return fmt.Sprintf("%t (%s)", info.HasNVIDIA(), src)
}
