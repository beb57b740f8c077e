package launcher

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-version"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/launcher/internal/oplog"
	"github.com/lablink-go/lablink/launcher/internal/queue"
	"github.com/lablink-go/lablink/launcher/internal/tofu"
	"github.com/lablink-go/lablink/plancheck"
	"github.com/lablink-go/lablink/tfvars"
)

// Open returns a Launcher for the client module in dir (its *.tf files;
// see package examples/terraform), ready to launch: it checks everything a
// launch would need that exists before one (the config, the run-time
// inputs, a value for every variable the module requires, the OpenTofu
// binary), reporting every problem at once, each naming its YAML path,
// variable or option; and only then writes into dir (its tokens, the
// backend file) and initializes it. It takes over from an earlier process
// that died in dir: it waits for an OpenTofu that process left running
// (bounded by ctx), marks that process's operations interrupted, stores a
// state OpenTofu could not save to S3, clears that process's stale S3
// lock, and checks the local state (see Recovery). gpus answers GPU
// support for cfg.Machine.MachineType; opts may be nil.
//
// The caller must end the Launcher with Shutdown or Close.
func Open(ctx context.Context, dir string, cfg lablink.Config, gpus GPUDetector, opts *Options) (*Launcher, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o = o.withDefaults()
	l, err := newLauncher(ctx, dir, cfg, gpus, o)
	if err != nil {
		return nil, fmt.Errorf("open launcher: %w", err)
	}
	if err := l.start(ctx); err != nil {
		_ = l.ops.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("open launcher: %w", err)
	}
	return l, nil
}

// newLauncher runs the checks that write nothing, then builds the
// Launcher.
func newLauncher(ctx context.Context, dir string, cfg lablink.Config, gpus GPUDetector, o Options) (*Launcher, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("working directory %s is not a directory", abs)
	}
	if gpus == nil {
		return nil, errors.New("no GPU detector: pass a *gpu.Detector, or gpu.Catalog{} for the offline catalog")
	}
	bin, err := FindBinary(o.Binary)
	if err != nil {
		return nil, err
	}
	schema, err := tfvars.LoadSchema(abs)
	if err != nil {
		return nil, fmt.Errorf("module: %w", err)
	}
	if len(schema.Variables()) == 0 {
		return nil, fmt.Errorf("%s declares no variables; is the client module there?", abs)
	}
	env := clientvars.EnvFrom(os.Getenv)
	if o.Env != nil {
		env = *o.Env
	}
	if !o.NoLaunch {
		if env, err = clientvars.DiscoverSecurityGroup(ctx, env, schema, o.IMDS); err != nil {
			return nil, err
		}
		if err := checkInputs(cfg, env, schema, o.Format); err != nil {
			return nil, &InputError{Err: err}
		}
	}
	l := &Launcher{
		dir: abs, cfg: cfg, env: env, gpus: gpus, schema: schema, opts: o, known: -1,
		digest: cfg.Digest(), digests: map[string]string{},
	}
	l.windows = newLockWindows(abs)
	l.tofu = &tofu.Runner{Path: bin, Dir: abs, Env: tofuEnv(o.TofuEnv), OnFailure: l.windows.note}
	l.wd = &workingDir{dir: abs, run: l.tofu, lockTimeout: o.LockTimeout, backend: o.State,
		fixedParallelism: o.Parallelism, maxParallelism: o.MaxParallelism,
		guard: &plancheck.Options{
			ClientVMs:       []string{"aws_instance." + o.VMResource, "terraform_data." + o.VMResource},
			HarmlessUpdates: o.HarmlessUpdates,
		}}
	l.q = queue.New(o.MaxCount, func(r Request) int { return r.Count }, l.launch)
	return l, nil
}

// checkInputs runs every check of a launch that needs neither OpenTofu nor
// EC2 and writes nothing: the config, the environment, and a render for
// one VM, with stand-in tokens where the working directory would supply
// them, so that a variable the module requires and nothing supplies is
// named now rather than at the first launch.
func checkInputs(cfg lablink.Config, env clientvars.Env, schema *tfvars.Schema, format tfvars.Format) error {
	if env.AgentToken == "" || env.RegisterToken == "" {
		t, err := clientvars.NewTokens()
		if err != nil {
			return err
		}
		env.AgentToken = cmp.Or(env.AgentToken, t.Agent)
		env.RegisterToken = cmp.Or(env.RegisterToken, t.Register)
	}
	in, err := clientvars.CheckInputs(cfg, env)
	if err != nil {
		return err
	}
	in.InstanceCount = 1
	_, err = clientvars.Render(schema, in, format)
	return err
}

// start writes what the launcher keeps in the working directory, checks
// the binary, takes over from an earlier process, and initializes.
func (l *Launcher) start(ctx context.Context) error {
	if err := os.Chmod(l.dir, 0o700); err != nil {
		return err
	}
	if !l.opts.NoLaunch && (l.env.AgentToken == "" || l.env.RegisterToken == "") {
		t, err := clientvars.WorkdirTokens(l.dir)
		if err != nil {
			return err
		}
		l.env.AgentToken = cmp.Or(l.env.AgentToken, t.Agent)
		l.env.RegisterToken = cmp.Or(l.env.RegisterToken, t.Register)
	}
	local := audit.NewDirStore(filepath.Join(l.dir, ".lablink", "audit"))
	l.trail = l.opts.Trail
	if l.trail == nil {
		l.trail = audit.NewTrail(local, &audit.Options{Now: l.opts.Now})
	}
	l.opsDB = l.opts.Operations
	if l.opsDB == nil {
		l.opsDB = audit.NewOpStore(local, &audit.Options{Now: l.opts.Now})
	}
	l.ops = oplog.New(l.opsDB, l.environment(), oplog.Options{Now: l.opts.Now})
	if l.opts.State != nil {
		if err := writeBackendFile(l.dir, *l.opts.State); err != nil {
			return err
		}
	}
	if s := l.opts.State; s != nil && s.S3 != nil && !s.S3.NoLockfile {
		// Only then: every other start runs OpenTofu in init or in the
		// recovery anyway, and a process less is a fifth of a cold start.
		if err := l.checkVersion(ctx); err != nil {
			return err
		}
	}
	found, err := l.recover(ctx)
	l.found = found
	if err != nil {
		return err
	}
	if err := l.wd.init(ctx); err != nil {
		// The first OpenTofu this process runs: a wrong binary shows here.
		return fmt.Errorf("%s %w", l.tofu.Path, err)
	}
	return nil
}

// minS3Lock is the first OpenTofu with S3 state locking (use_lockfile).
var minS3Lock = version.Must(version.NewVersion("1.10.0"))

// checkVersion asks the binary its version: an S3 state locked by
// OpenTofu's lock file needs OpenTofu 1.10 (Terraform 1.10 too).
func (l *Launcher) checkVersion(ctx context.Context) error {
	out, err := l.tofu.Output(ctx, tofu.Version())
	if err != nil {
		return fmt.Errorf("%s: %w", l.tofu.Path, err)
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return fmt.Errorf("%s version -json: %w", l.tofu.Path, err)
	}
	got, err := version.NewVersion(v.Version)
	if err != nil {
		return fmt.Errorf("%s version -json: %w", l.tofu.Path, err)
	}
	if s := l.opts.State; s != nil && s.S3 != nil && !s.S3.NoLockfile && got.LessThan(minS3Lock) {
		return fmt.Errorf("%s is version %s; S3 state locking needs OpenTofu %s or later", l.tofu.Path, got, minS3Lock)
	}
	return nil
}
