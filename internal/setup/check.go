package setup

import (
	"context"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/launcher"
)

// CheckInputs runs the checks of launcher.Resolve that need no network:
// cfg and env, every problem at once, each naming its YAML path or
// environment variable. An adapter calls it before it writes anything,
// and, since Resolve then fails only in its GPU lookup, to tell invalid
// input from a failure of EC2.
//
// It stands in for the part of launcher.Resolve that
// (*launcher.Launcher).Check runs before a Launcher exists (that is, before
// the module is in the working directory); Resolve does not export it.
func CheckInputs(ctx context.Context, cfg lablink.Config, env launcher.Env) error {
	_, _, err := launcher.Resolve(ctx, cfg, env, noLookup{})
	return err
}

// noLookup answers every instance type without asking anyone.
type noLookup struct{}

func (noLookup) Detect(_ context.Context, instanceType string) (gpu.Info, error) {
	return gpu.Info{InstanceType: instanceType}, nil
}
