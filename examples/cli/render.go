package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

func (c *cli) render(ctx context.Context, args []string) error {
	fs := c.newFlags("render", "[flags]")
	configPath := fs.String("config", "", "allocator config.yaml (default: the example config embedded in this binary)")
	envs := addEnvFlags(fs)
	gpuMode := fs.String("gpu", "", setup.GPUUsage)
	count := fs.Int("count", 1, "instance_count: client VMs in total")
	module := fs.String("module", "", "module directory whose variables.tf the file must satisfy (default: the embedded aws module)")
	format := fs.String("format", "", `output syntax, hcl or json (default: from --out's extension, else hcl)`)
	out := fs.String("out", "", "write the file atomically with mode 0600 to this path instead of stdout")
	workdir := fs.String("workdir", "", "working directory whose kept agent and register tokens to use, when LABLINK_AGENT_TOKEN and LABLINK_REGISTER_TOKEN are unset (default: tokens made for this file alone)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if *count < 1 {
		return invalidf("--count %d: want at least 1", *count)
	}
	f, err := outputFormat(*format, *out)
	if err != nil {
		return err
	}
	cfg, err := c.loadConfig(*configPath)
	if err != nil {
		return err
	}
	env := envs.env(c.getenv, *configPath)
	if err := requireIP(env); err != nil {
		return err
	}
	schema, err := loadSchema(*module)
	if err != nil {
		return err
	}
	if env, err = clientvars.DiscoverSecurityGroup(ctx, env, schema, nil); err != nil {
		return err
	}
	var made string
	if env.AgentToken == "" || env.RegisterToken == "" {
		if env, made, err = tokens(env, *workdir); err != nil {
			return err
		}
	}
	det, err := c.chooseDetector(ctx, *gpuMode, &setup.AWS{Region: cfg.App.Region}, "render")
	if err != nil {
		return err
	}
	in, info, err := resolve(ctx, cfg, env, det)
	if err != nil {
		return err
	}
	in.InstanceCount = *count
	r, err := clientvars.Render(schema, in, f)
	if err != nil {
		return renderError(err)
	}

	dest := "stdout"
	if *out == "" {
		if _, err := c.stdout.Write(r.Data); err != nil {
			return err
		}
	} else {
		if err := tfvars.WriteFile(*out, r.Data); err != nil {
			return err
		}
		dest = *out
	}
	if made != "" {
		fmt.Fprintf(c.stderr, "render: %s made for this file alone; set LABLINK_AGENT_TOKEN and LABLINK_REGISTER_TOKEN, or --workdir, to use the allocator's\n", made)
	}
	fmt.Fprintf(c.stderr, "render: %d variables, instance_count=%d, gpu_support=%s, allocator_url=%s -> %s (sha256 %s)\n",
		len(r.Values), in.InstanceCount, describeGPU(info), in.URL, dest, r.SHA256)
	return nil
}

// outputFormat reads --format, defaulting from the --out file name.
func outputFormat(flagValue, out string) (tfvars.Format, error) {
	switch flagValue {
	case "":
		if out != "" {
			return tfvars.FormatOf(out), nil
		}
		return tfvars.HCL, nil
	case "hcl":
		return tfvars.HCL, nil
	case "json":
		return tfvars.JSON, nil
	}
	return 0, invalidf("--format %q: want hcl or json", flagValue)
}

// loadSchema reads the variables of the module in dir, or of the embedded
// aws module when dir is "".
func loadSchema(dir string) (*tfvars.Schema, error) {
	if dir == "" {
		fsys, err := terraform.FS("aws")
		if err != nil {
			return nil, err
		}
		return tfvars.LoadSchemaFS(fsys, ".")
	}
	s, err := tfvars.LoadSchema(dir)
	if err != nil {
		return nil, invalid(err)
	}
	if len(s.Variables()) == 0 {
		return nil, invalidf("module %s declares no variables; is it a module directory?", dir)
	}
	return s, nil
}

// tokens fills the tokens env leaves unset: those kept in workdir, or,
// without one, tokens made for this render alone. made names those
// ("agent and register tokens", "agent token", "register token", or ""
// when workdir supplied them), for the caller to say so: an allocator must
// know the tokens for its VMs to register.
func tokens(env clientvars.Env, workdir string) (_ clientvars.Env, made string, err error) {
	var t clientvars.Tokens
	if workdir != "" {
		if t, err = clientvars.WorkdirTokens(workdir); err != nil {
			return env, "", err
		}
	} else {
		if t, err = clientvars.NewTokens(); err != nil {
			return env, "", err
		}
		switch {
		case env.AgentToken == "" && env.RegisterToken == "":
			made = "agent and register tokens"
		case env.AgentToken == "":
			made = "agent token"
		default:
			made = "register token"
		}
	}
	env.AgentToken = cmp.Or(env.AgentToken, t.Agent)
	env.RegisterToken = cmp.Or(env.RegisterToken, t.Register)
	return env, made, nil
}

// renderError marks a render failure that names a module variable (one
// the module requires and nothing supplies, such as allocator_sg_id off
// EC2 without --allocator-sg-id, or a value the module refuses) as invalid
// input, as a missing --allocator-ip is.
func renderError(err error) error {
	var ve *tfvars.VariableError
	if errors.As(err, &ve) || errors.Is(err, launcher.ErrInvalidInput) {
		return invalid(err)
	}
	return err
}
