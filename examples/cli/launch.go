package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

// workFlags are the flags every working-directory command shares.
type workFlags struct {
	workdir, config, terraform, audit, actor string
}

func addWorkFlags(fs *flag.FlagSet, getenv func(string) string) *workFlags {
	w := &workFlags{}
	fs.StringVar(&w.workdir, "workdir", "", "OpenTofu working directory (required)")
	fs.StringVar(&w.config, "config", "", "allocator config.yaml (default: the embedded example config)")
	fs.StringVar(&w.terraform, "terraform", "", "OpenTofu or Terraform binary (default $TOFU_PATH, else tofu or terraform on PATH)")
	fs.StringVar(&w.audit, "audit", "", "audit store, s3://BUCKET[/PREFIX] or a directory (default <workdir>/.lablink/audit)")
	actor := getenv("USER")
	if actor == "" {
		actor = "cli"
	}
	fs.StringVar(&w.actor, "actor", actor, "who asks, for the audit trail")
	return w
}

func (c *cli) launch(ctx context.Context, args []string) error {
	fset := c.newFlags("launch", "--count N --workdir DIR [flags]")
	w := addWorkFlags(fset, c.getenv)
	count := fset.Int("count", 0, "client VMs to add (required)")
	module := fset.String("module", "local", "module to put into an empty workdir: local, aws, or a directory to copy")
	gpuMode := fset.String("gpu", "", gpuFlagUsage)
	envs := addEnvFlags(fset)
	if err := noArgs(fset, args); err != nil {
		return err
	}
	if !isSet(fset, "count") {
		return invalidf("--count is required")
	}
	if *count < 1 {
		return invalidf("--count %d: want at least 1", *count)
	}
	if w.workdir == "" {
		return invalidf("--workdir is required")
	}
	cfg, err := c.loadConfig(w.config)
	if err != nil {
		return err
	}
	env := envs.env(c.getenv, w.config)
	if err := requireIP(env); err != nil {
		return err
	}
	det, err := chooseDetector(ctx, *gpuMode, cfg, c.stderr, "launch")
	if err != nil {
		return err
	}
	// Resolve once before touching the working directory, so invalid input
	// exits 2 without a trace; the detectors cache, so the launch itself
	// asks no second time.
	tracked := &trackedDetector{d: det}
	if _, _, err := launcher.Resolve(ctx, cfg, env, tracked); err != nil {
		return resolveError(ctx, err, tracked, cfg)
	}
	if err := ensureModule(w.workdir, *module, c.stderr); err != nil {
		return err
	}

	schema, err := tfvars.LoadSchema(w.workdir)
	if err != nil {
		return err
	}
	if env, err = launcher.DiscoverSecurityGroup(ctx, env, schema, nil); err != nil {
		return err
	}
	pp := newProgressPrinter(c.stderr)
	l, err := c.newLauncher(ctx, w, cfg, env, det, pp.update)
	if err != nil {
		return err
	}
	defer l.Close()
	// A variable the module requires and nothing supplies (allocator_sg_id
	// off EC2 without --allocator-sg-id) is invalid input: refuse it before
	// OpenTofu runs and before the audit trail records an attempt.
	if err := l.Check(ctx); err != nil {
		return renderError(err)
	}
	res, err := l.Launch(ctx, launcher.Request{Count: *count, Actor: w.actor})
	pp.finish()
	if err != nil {
		if errors.Is(err, launcher.ErrInvalidCount) {
			return invalid(err)
		}
		if res.LaunchID != "" {
			fmt.Fprintf(c.stderr, "launch %s failed; audit record: %s\n", res.LaunchID, res.Audit)
		}
		return err
	}
	out := c.stdout
	fmt.Fprintf(out, "launch:     %s succeeded in %s\n", res.LaunchID, res.Duration.Round(time.Millisecond))
	fmt.Fprintf(out, "client VMs: %d existing + %d requested = %d total\n", res.Existing, res.Requested, res.Total)
	fmt.Fprintf(out, "allocator:  %s\n", res.AllocatorURL)
	fmt.Fprintf(out, "gpu:        %s %s\n", res.GPU.InstanceType, describeGPU(res.GPU))
	fmt.Fprintf(out, "tfvars:     %s (sha256 %s)\n", res.TFVarsPath, res.TFVarsSHA256)
	fmt.Fprintf(out, "plan:       %d to add, %d to change, %d to destroy, %d to replace\n",
		res.Plan.Add, res.Plan.Change, res.Plan.Destroy, res.Plan.Replace)
	fmt.Fprintf(out, "audit:      %s\n", res.Audit)
	return nil
}

func (c *cli) destroy(ctx context.Context, args []string) error {
	w, envs, cfg, has, err := c.workdirCommand("destroy", args)
	if err != nil {
		return err
	}
	if !has {
		return fmt.Errorf("%w in %s: it holds no module", launcher.ErrNothingLaunched, w.workdir)
	}
	pp := newProgressPrinter(c.stderr)
	// Destroy asks no GPU question; the catalog satisfies the constructor.
	l, err := c.newLauncher(ctx, w, cfg, envs.env(c.getenv, w.config), gpu.Catalog{}, pp.update)
	if err != nil {
		return err
	}
	defer l.Close()
	res, err := l.Destroy(ctx, w.actor)
	pp.finish()
	if errors.Is(err, launcher.ErrNothingLaunched) {
		return fmt.Errorf("%w in %s: no runtime tfvars", err, w.workdir)
	}
	if err != nil {
		if res.LaunchID != "" {
			fmt.Fprintf(c.stderr, "destroy %s failed; audit record: %s\n", res.LaunchID, res.Audit)
		}
		return err
	}
	fmt.Fprintf(c.stdout, "destroy:    %s succeeded in %s\n", res.LaunchID, res.Duration.Round(time.Millisecond))
	fmt.Fprintf(c.stdout, "client VMs: %d destroyed\n", res.Destroyed)
	fmt.Fprintf(c.stdout, "audit:      %s\n", res.Audit)
	return nil
}

func (c *cli) status(ctx context.Context, args []string) error {
	w, envs, cfg, has, err := c.workdirCommand("status", args)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "workdir:        %s\n", w.workdir)
	if !has {
		fmt.Fprintln(c.stdout, "client VMs:     0 (no module yet)")
		fmt.Fprintln(c.stdout, "runtime tfvars: none")
		return nil
	}
	l, err := c.newLauncher(ctx, w, cfg, envs.env(c.getenv, w.config), gpu.Catalog{}, nil)
	if err != nil {
		return err
	}
	defer l.Close()
	st, err := l.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "client VMs:     %d\n", st.VMs)
	if st.TFVars {
		fmt.Fprintf(c.stdout, "runtime tfvars: %s\n", l.TFVarsPath())
	} else {
		fmt.Fprintln(c.stdout, "runtime tfvars: none")
	}
	if st.Last == nil {
		fmt.Fprintln(c.stdout, "last launch:    none")
		return nil
	}
	m := st.Last
	fmt.Fprintf(c.stdout, "last launch:    %s %s %s at %s\n", m.LaunchID, m.Operation, m.Outcome, m.Started.UTC().Format(time.RFC3339))
	return nil
}

// newLauncher finds the binary, opens the audit store of --audit (or
// leaves the launcher's default) and returns a Launcher for the workdir.
func (c *cli) newLauncher(ctx context.Context, w *workFlags, cfg lablink.Config, env launcher.Env, det launcher.GPUDetector, progress func(launcher.Progress)) (*launcher.Launcher, error) {
	bin, err := launcher.FindBinary(w.terraform)
	if err != nil {
		return nil, err
	}
	opts := &launcher.Options{Progress: progress}
	if w.audit != "" {
		store, err := openStore(ctx, w.audit, cfg.App.Region)
		if err != nil {
			return nil, err
		}
		opts.Trail = audit.NewTrail(store, nil)
	}
	return launcher.New(w.workdir, bin, cfg, env, det, opts)
}

// openStore opens an audit store; S3 stores use the SDK's standard chain,
// in region unless the environment names one.
func openStore(ctx context.Context, spec, region string) (audit.Store, error) {
	store, err := audit.ParseStore(ctx, spec, func(ctx context.Context) (aws.Config, error) {
		return awsConfigForStore(ctx, region)
	})
	if errors.Is(err, audit.ErrInvalid) {
		return nil, invalid(err)
	}
	return store, err
}

// hasModule reports whether dir holds *.tf files. A missing dir holds none.
// workdirCommand parses the flags of a command on an existing working
// directory (destroy, status), loads the config, and reports whether the
// directory holds a module.
func (c *cli) workdirCommand(name string, args []string) (w *workFlags, envs *envFlags, cfg lablink.Config, has bool, err error) {
	fset := c.newFlags(name, "--workdir DIR [flags]")
	w = addWorkFlags(fset, c.getenv)
	envs = addEnvFlags(fset)
	if err := noArgs(fset, args); err != nil {
		return nil, nil, cfg, false, err
	}
	if w.workdir == "" {
		return nil, nil, cfg, false, invalidf("--workdir is required")
	}
	if cfg, err = c.loadConfig(w.config); err != nil {
		return nil, nil, cfg, false, err
	}
	has, err = hasModule(w.workdir)
	return w, envs, cfg, has, err
}

func hasModule(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".tf") {
			return true, nil
		}
	}
	return false, nil
}

// ensureModule puts the module into workdir unless it already holds *.tf
// files: "local" or "aws" from the embedded modules, anything else is a
// directory whose module files are copied.
func ensureModule(workdir, module string, log io.Writer) error {
	has, err := hasModule(workdir)
	if err != nil || has {
		return err
	}
	var src fs.FS
	switch module {
	case "local", "aws":
		entries, err := os.ReadDir(workdir)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
			if err := terraform.Materialize(module, workdir); err != nil {
				return err
			}
			fmt.Fprintf(log, "launch: wrote the embedded %s module into %s\n", module, workdir)
			return nil
		}
		// Materialize wants an empty directory; this one holds other
		// files (an audit directory, a state file), so copy next to them.
		if src, err = terraform.FS(module); err != nil {
			return err
		}
	default:
		has, err := hasModule(module)
		if err != nil {
			return invalidf("--module %s: %w", module, err)
		}
		if !has {
			return invalidf("--module %q: want local, aws or a directory holding *.tf files", module)
		}
		src = os.DirFS(module)
	}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return err
	}
	n, err := copyModule(src, workdir)
	if err != nil {
		return fmt.Errorf("copy module %s into %s: %w", module, workdir, err)
	}
	fmt.Fprintf(log, "launch: copied %d module files of %s into %s\n", n, module, workdir)
	return nil
}

// copyModule copies the top-level module files of src (*.tf and the
// templates and scripts next to them) into dir, never overwriting. State,
// variable files, plans and hidden files stay behind.
func copyModule(src fs.FS, dir string) (int, error) {
	entries, err := fs.ReadDir(src, ".")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || !moduleFile(name) {
			continue
		}
		data, err := fs.ReadFile(src, name)
		if err != nil {
			return n, err
		}
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return n, err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func moduleFile(name string) bool {
	for _, suffix := range []string{".tf", ".tftpl", ".tpl", ".sh", ".hcl"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}
