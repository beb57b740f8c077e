package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/launcher"
)

// workFlags are the flags every working-directory command shares.
type workFlags struct {
	workdir, config, terraform, audit, actor string
	// state is --state and its companions, and --max-count.
	state setup.State
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
	w.state.Register(fs)
	return w
}

// check validates the flags every working-directory command shares.
func (w *workFlags) check() error {
	if w.workdir == "" {
		return invalidf("--workdir is required")
	}
	if err := w.state.Check(); err != nil {
		return invalid(err)
	}
	return nil
}

func (c *cli) launch(ctx context.Context, args []string) error {
	fset := c.newFlags("launch", "--count N --workdir DIR [flags]")
	w := addWorkFlags(fset, c.getenv)
	count := fset.Int("count", 0, "client VMs to add (required)")
	module := fset.String("module", "local", "module to put into a workdir that holds none, and to compare one it holds with: local, aws, or a directory to copy")
	gpuMode := fset.String("gpu", "", setup.GPUUsage)
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
	if err := w.check(); err != nil {
		return err
	}
	mod, err := terraform.Open(*module)
	if err != nil {
		return invalidf("--module: %w", err)
	}
	cfg, err := c.loadConfig(w.config)
	if err != nil {
		return err
	}
	env := envs.env(c.getenv, w.config)
	if err := requireIP(env); err != nil {
		return err
	}
	awsCfg := &setup.AWS{Region: cfg.App.Region}
	det, err := c.chooseDetector(ctx, *gpuMode, awsCfg, "launch")
	if err != nil {
		return err
	}
	// Resolve once before touching the working directory, so invalid input
	// exits 2 without a trace; the detectors cache, so the launch itself
	// asks no second time.
	if _, _, err := resolve(ctx, cfg, env, det); err != nil {
		return err
	}
	if err := c.installModule(w.workdir, mod); err != nil {
		return err
	}
	pp := newProgressPrinter(c.stderr)
	l, err := c.openLauncher(ctx, w, awsCfg, cfg, env, det, pp.update, false)
	if err != nil {
		return err
	}
	defer l.Close()
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
	fmt.Fprintf(out, "tfvars:     %s (sha256 %s)\n", l.TFVarsPath(), res.TFVarsSHA256)
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
	// Destroy asks no GPU question; the catalog satisfies Open.
	l, err := c.openLauncher(ctx, w, &setup.AWS{Region: cfg.App.Region}, cfg, envs.env(c.getenv, w.config), gpu.Catalog{}, pp.update, true)
	if err != nil {
		return err
	}
	defer l.Close()
	res, err := l.Destroy(ctx, launcher.Request{Actor: w.actor})
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
	if !has && w.state.Spec != "" && w.state.Spec != "local" {
		// A fresh working directory on a shared state: the local module
		// is enough for OpenTofu to read it.
		mod, err := terraform.Open("local")
		if err != nil {
			return err
		}
		if err := c.installModule(w.workdir, mod); err != nil {
			return err
		}
		has = true
	}
	if !has {
		fmt.Fprintln(c.stdout, "client VMs:     0 (no module yet)")
		fmt.Fprintln(c.stdout, "runtime tfvars: none")
		return nil
	}
	l, err := c.openLauncher(ctx, w, &setup.AWS{Region: cfg.App.Region}, cfg, envs.env(c.getenv, w.config), gpu.Catalog{}, nil, true)
	if err != nil {
		return err
	}
	defer l.Close()
	st, err := l.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "client VMs:     %d\n", len(st.VMs))
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
	fmt.Fprintf(c.stdout, "last launch:    %s %s %s at %s\n", m.LaunchID, m.Action, m.Outcome, m.Started.UTC().Format(time.RFC3339))
	return nil
}

// openLauncher opens the audit store of --audit (or leaves the
// launcher's default) and opens a Launcher for the workdir: for Status
// and Destroy only when noLaunch is set. What a killed earlier run left is
// taken over and said on stderr.
func (c *cli) openLauncher(ctx context.Context, w *workFlags, a *setup.AWS, cfg lablink.Config, env clientvars.Env, det launcher.GPUDetector, progress func(launcher.Progress), noLaunch bool) (*launcher.Launcher, error) {
	opts := &launcher.Options{Binary: w.terraform, Env: &env, Progress: progress, NoLaunch: noLaunch}
	if w.audit != "" {
		store, err := openStore(ctx, w.audit, a)
		if err != nil {
			return nil, err
		}
		opts.Trail = audit.NewTrail(store, nil)
		opts.Operations = audit.NewOpStore(store, nil)
	}
	if err := w.state.Apply(ctx, cfg, cfg.EnvironmentName(env.Environment), a.Config, opts); err != nil {
		return nil, invalid(err)
	}
	l, err := launcher.Open(ctx, w.workdir, cfg, det, opts)
	if errors.Is(err, launcher.ErrInvalidInput) {
		return nil, renderError(err)
	}
	if err != nil {
		return nil, err
	}
	c.sayRecovery(l.Recovery())
	return l, nil
}

// sayRecovery tells on stderr what Open took over from a dead earlier run.
func (c *cli) sayRecovery(rec launcher.Recovery) {
	for _, p := range rec.Waited {
		fmt.Fprintf(c.stderr, "waited for OpenTofu %s (pid %d) left running by an earlier run\n", p.Command, p.PID)
	}
	for _, u := range rec.Unfinished {
		fmt.Fprintf(c.stderr, "an earlier run died during %s %s; %d of the VMs it was to create are not in the state\n",
			u.Action, u.LaunchID, len(u.Missing))
	}
	for _, op := range rec.Interrupted {
		fmt.Fprintf(c.stderr, "operation %d of a stopped earlier run marked interrupted\n", op.ID)
	}
	if lk := rec.Cleared; lk != nil {
		fmt.Fprintf(c.stderr, "cleared the state lock %s of %s: no OpenTofu holds it\n", lk.ID, lk.Who)
	}
	if lk := rec.Held; lk != nil {
		fmt.Fprintf(c.stderr, "the state is locked by %s (lock %s), not proven gone; waiting for it\n", lk.Who, lk.ID)
	}
	if rec.State != nil {
		fmt.Fprintf(c.stderr, "the state cannot be planned from: %v\n", rec.State)
	}
	for _, o := range rec.Orphans {
		fmt.Fprintf(c.stderr, "VM %s (%s) exists but is not in the state\n", o.Name, o.ID)
	}
}

// openStore opens an audit store; S3 stores use the SDK's standard chain.
func openStore(ctx context.Context, spec string, a *setup.AWS) (audit.Store, error) {
	store, err := audit.ParseStore(ctx, spec, a.Config)
	if errors.Is(err, audit.ErrInvalid) {
		return nil, invalid(err)
	}
	return store, err
}

// installModule puts mod into workdir unless it holds a module, and says
// what it did, or how the module it holds differs from mod.
func (c *cli) installModule(workdir string, mod *terraform.Module) error {
	inst, err := mod.Install(workdir)
	switch {
	case errors.Is(err, terraform.ErrNotModuleDir):
		return invalidf("--workdir: %w", err)
	case err != nil:
		return err
	case inst.Wrote != nil:
		fmt.Fprintf(c.stderr, "launch: wrote %s into %s\n", mod, workdir)
	case len(inst.Diff) > 0:
		fmt.Fprintf(c.stderr, "launch: the module in %s differs from %s in %s; using the workdir's files\n",
			workdir, mod, strings.Join(inst.Diff, ", "))
	}
	return nil
}

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
	if err := w.check(); err != nil {
		return nil, nil, cfg, false, err
	}
	if cfg, err = c.loadConfig(w.config); err != nil {
		return nil, nil, cfg, false, err
	}
	has, err = terraform.HasModule(w.workdir)
	return w, envs, cfg, has, err
}
