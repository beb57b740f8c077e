package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

// renderDoc is the JSON document of render.
type renderDoc struct {
	// Format is the syntax of the file: hcl or json.
	Format string `json:"format"`
	// TFVars is the file itself when it was not written to --out.
	TFVars string `json:"tfvars,omitempty"`
	// Out is the file written with --out.
	Out           string `json:"out,omitempty"`
	SHA256        string `json:"sha256"`
	Variables     int    `json:"variables"`
	InstanceCount int    `json:"instance_count"`
	AllocatorURL  string `json:"allocator_url"`
	GPU           gpuDoc `json:"gpu"`
	// TokensMade names the tokens made for this file alone, "" when they
	// came from the environment or --workdir.
	TokensMade string `json:"tokens_made,omitempty"`
}

const renderJSON = `JSON (--json): {"format", "tfvars" (the file, without --out), "out", "sha256",
"variables", "instance_count", "allocator_url", "gpu": {"instance_type", "nvidia",
"source", "catalog_date", "region"}, "tokens_made"}; see JSON.md.
`

func (c *cli) render(ctx context.Context, args []string) error {
	fs := c.newFlags("render", "[flags]", renderJSON)
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
		return badInput("--count", "--count %d: want at least 1", *count)
	}
	f, err := outputFormat(*format, *out)
	if err != nil {
		return err
	}
	cfg, err := c.loadConfig(*configPath)
	if err != nil {
		return err
	}
	env := c.env(envs, *configPath)
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
	in, info, err := c.resolve(ctx, cfg, env, det)
	if err != nil {
		return err
	}
	in.InstanceCount = *count
	r, err := clientvars.Render(schema, in, f)
	if err != nil {
		return c.renderError(err, env)
	}
	doc := renderDoc{Format: formatName(f), SHA256: r.SHA256, Variables: len(r.Values), InstanceCount: in.InstanceCount,
		AllocatorURL: in.URL.String(), GPU: newGPUDoc(info), TokensMade: made, Out: *out}
	return c.writeRendered(doc, r.Data, info)
}

// writeRendered puts the file where --out says, or on stdout (into the
// JSON document with --json), and says what it wrote on stderr.
func (c *cli) writeRendered(doc renderDoc, data []byte, info gpu.Info) error {
	dest := "stdout"
	switch {
	case doc.Out != "":
		if err := tfvars.WriteFile(doc.Out, data); err != nil {
			return &inputError{field: "--out", msg: fmt.Sprintf("--out %s: %v", doc.Out, err)}
		}
		dest = doc.Out
	case c.json:
		doc.TFVars = string(data)
	default:
		if _, err := c.stdout.Write(data); err != nil {
			return err
		}
	}
	if c.json {
		c.writeJSON(doc)
		return nil
	}
	if doc.TokensMade != "" {
		fmt.Fprintf(c.stderr, "render: %s made for this file alone; set LABLINK_AGENT_TOKEN and LABLINK_REGISTER_TOKEN, or --workdir, to use the allocator's\n", doc.TokensMade)
	}
	fmt.Fprintf(c.stderr, "render: %d variables, instance_count=%d, gpu_support=%s, allocator_url=%s -> %s (sha256 %s)\n",
		doc.Variables, doc.InstanceCount, describeGPU(info), doc.AllocatorURL, dest, doc.SHA256)
	return nil
}

// formatName is the --format value of f.
func formatName(f tfvars.Format) string {
	if f == tfvars.JSON {
		return "json"
	}
	return "hcl"
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
	return 0, badInput("--format", "--format %q: want hcl or json", flagValue)
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
		return nil, badInput("--module", "--module %s: %v", dir, err)
	}
	if len(s.Variables()) == 0 {
		return nil, badInput("--module", "--module %s declares no variables; give the directory of the client module", dir)
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
// input, as a missing --allocator-ip is, each problem named as the user
// gave it.
func (c *cli) renderError(err error, env clientvars.Env) error {
	var ve *tfvars.VariableError
	if errors.As(err, &ve) || errors.Is(err, launcher.ErrInvalidInput) {
		return invalid(c.blame(err, env))
	}
	return err
}
