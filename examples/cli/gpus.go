package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/launcher"
)

// chooseDetector returns the GPU detector for the --gpu flag's value (""
// when not given). When the default falls back to the offline catalog, it
// says so on stderr prefixed with cmd.
func (c *cli) chooseDetector(ctx context.Context, flagValue string, a *setup.AWS, cmd string) (launcher.GPUDetector, error) {
	mode, err := setup.ParseGPUMode(flagValue)
	if err != nil {
		return nil, invalid(&inputError{field: "--gpu", msg: err.Error()})
	}
	g, err := setup.ChooseGPU(ctx, mode, a)
	if err != nil {
		return nil, err
	}
	if g.NoCredentials != nil {
		fmt.Fprintf(c.stderr, "%s: no AWS credentials; GPU support from the offline catalog taken %s\n", cmd, gpu.CatalogDate())
	}
	return g.Detector, nil
}

// resolve is clientvars.Resolve with its errors told apart: a problem of
// the config or the environment is invalid input, named as the user gave
// it (see blame); so is an instance type the detector does not know; any
// other failure of the GPU lookup (the API, the network) is a failure,
// never an answer without a GPU.
func (c *cli) resolve(ctx context.Context, cfg lablink.Config, env clientvars.Env, det launcher.GPUDetector) (clientvars.Inputs, gpu.Info, error) {
	in, err := clientvars.CheckInputs(cfg, env)
	if err != nil {
		return clientvars.Inputs{}, gpu.Info{}, invalid(c.blame(err, env))
	}
	// The inputs are valid, so an error now is the detector's (this is
	// clientvars.Resolve, whose errors do not say whose they are).
	info, err := det.Detect(ctx, cfg.Machine.MachineType)
	switch {
	case err == nil:
		in.GPU = info.HasNVIDIA()
		return in, info, nil
	case errors.Is(err, gpu.ErrUnknownInstanceType):
		err = invalid(&inputError{field: "machine.machine_type", msg: fmt.Sprintf(
			"machine.machine_type %q: %v; set machine.machine_type to an EC2 instance type", cfg.Machine.MachineType, err)})
	case ctx.Err() == nil:
		err = fmt.Errorf("cannot tell whether %s has a GPU, and gpu_support is never guessed: %w\n"+
			"retry, or pass --gpu catalog, --gpu true or --gpu false", cfg.Machine.MachineType, err)
	}
	return clientvars.Inputs{}, gpu.Info{}, err
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
