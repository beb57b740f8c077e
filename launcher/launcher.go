package launcher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/plancheck"
	"github.com/lablink-go/lablink/tfstate"
	"github.com/lablink-go/lablink/tfvars"
)

// Options tunes a Launcher. The zero value means the defaults.
type Options struct {
	// MaxCount is the most VMs one request may ask for, and the most one
	// apply adds: requests that would take a merged apply past it wait for
	// the apply after. Default 500, a large class at once.
	MaxCount int
	// Parallelism, when positive, is OpenTofu's -parallelism for every
	// apply and destroy. Default 0: one per planned resource change, at
	// least OpenTofu's default 10 and at most MaxParallelism, so that a
	// class of VMs is created in the time of one.
	Parallelism int
	// MaxParallelism bounds the chosen parallelism. Default 100: each VM
	// is one RunInstances call, and EC2 throttles RunInstances requests
	// per account and region (a token bucket; see docs/upstream.md); the
	// AWS provider retries throttled calls.
	MaxParallelism int
	// LockTimeout is how long OpenTofu waits for the state lock held by
	// another process before failing. Default 2 minutes.
	LockTimeout time.Duration
	// Format of the runtime tfvars file. Default tfvars.HCL
	// (terraform.runtime.tfvars); tfvars.JSON writes
	// terraform.runtime.tfvars.json.
	Format tfvars.Format
	// Counter counts the existing client VMs. Default: the client VMs in
	// the OpenTofu state, taken from the plan's own prior state so that a
	// launch runs no extra OpenTofu command for it.
	Counter Counter
	// Trail records every attempt. Default: a directory store under
	// <workdir>/.lablink/audit.
	Trail *audit.Trail
	// KeepSensitive stores sensitive variables unredacted in the audit
	// copy. Default false: they are replaced by "(sensitive)".
	KeepSensitive bool
	// HarmlessUpdates lists attribute paths of the client VMs ("tags",
	// "tags.Name") whose change in place an apply may make; any other
	// update of a running VM is refused (see plancheck.Options). Default
	// none.
	HarmlessUpdates []string
	// State, when set, chooses where OpenTofu keeps the state: the launcher
	// writes tfstate.FileName into the working directory (replacing any
	// backend the module declares) and passes the backend settings at
	// init. Default nil: the module's own backend configuration, as is.
	State *tfstate.Backend
	// StateClient reads the S3 lock object of State for Recover; nil
	// leaves a stale S3 lock alone (Recover reports it).
	StateClient tfstate.GetObjectAPIClient
	// Operations keeps an operation record of every launch and destroy
	// request. Default: the records next to the default audit trail,
	// under <workdir>/.lablink/audit.
	Operations *audit.OpStore
	// VMResource is the resource name of the client VMs in the module.
	// Default "lablink_vm".
	VMResource string
	// Progress, when set, receives apply progress. It is called from the
	// launcher's goroutine and must not block for long.
	Progress func(Progress)
	// TofuEnv is the whole environment of OpenTofu processes; it replaces
	// the launcher's own (as tfexec.Terraform.SetEnv does) and must not
	// hold the variables terraform-exec manages (tfexec.ProhibitedEnv).
	// Default: the process environment when New is called, without those
	// variables: TF_VAR_*, TF_CLI_ARGS*, TF_WORKSPACE, TF_LOG* and the
	// like, so that the runtime tfvars alone decide what is applied. In
	// both cases a TF_CLI_CONFIG_FILE that names no file is replaced by
	// the empty os.DevNull (see tofuEnv).
	TofuEnv map[string]string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// withDefaults is o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	o.MaxCount = cmp.Or(max(o.MaxCount, 0), 500)
	o.MaxParallelism = cmp.Or(max(o.MaxParallelism, 0), 100)
	o.LockTimeout = cmp.Or(max(o.LockTimeout, 0), 2*time.Minute)
	o.VMResource = cmp.Or(o.VMResource, "lablink_vm")
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Launcher launches and destroys client VMs in one working directory.
// It is safe for concurrent use. Launches, destroys and Prepare wait in
// one queue and run one at a time, so OpenTofu never runs twice at once
// in the directory; launch requests that wait together are merged (see
// the package doc). Call Close when done.
type Launcher struct {
	dir    string
	cfg    lablink.Config
	env    Env
	gpus   GPUDetector
	schema *tfvars.Schema
	opts   Options
	trail  *audit.Trail
	wd     *workingDir
	state  stateReader
	q      *queue
	ops    *opsTracker

	// known is the client VM count after the last apply, -1 when unknown.
	// Only the queue's jobs use it, one at a time.
	known int
}

// New returns a Launcher for the module in workdir (its *.tf files; see
// package examples/terraform for the client module), run by the OpenTofu
// or Terraform binary at binary. cfg is validated by the first launch;
// gpus answers GPU support for cfg.Machine.MachineType.
func New(workdir, binary string, cfg lablink.Config, env Env, gpus GPUDetector, opts *Options) (*Launcher, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o = o.withDefaults()
	dir, err := filepath.Abs(workdir)
	if err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	schema, err := tfvars.LoadSchema(dir)
	if err != nil {
		return nil, fmt.Errorf("launcher: load module schema: %w", err)
	}
	if len(schema.Variables()) == 0 {
		return nil, fmt.Errorf("launcher: %s declares no variables; is the module there?", dir)
	}
	tf, err := tfexec.NewTerraform(dir, binary)
	if err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	procEnv := tofuEnv(o.TofuEnv)
	if err := tf.SetEnv(procEnv); err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	localStore := audit.NewDirStore(filepath.Join(dir, ".lablink", "audit"))
	trail := o.Trail
	if trail == nil {
		trail = audit.NewTrail(localStore, &audit.Options{Now: o.Now})
	}
	ops := o.Operations
	if ops == nil {
		ops = audit.NewOpStore(localStore, &audit.Options{Now: o.Now})
	}
	if o.State != nil {
		if err := writeBackendFile(dir, *o.State); err != nil {
			return nil, fmt.Errorf("launcher: %w", err)
		}
	}
	l := &Launcher{
		dir: dir, cfg: cfg, env: env, gpus: gpus, schema: schema, opts: o, trail: trail,
		wd: &workingDir{dir: dir, tf: tf, lockTimeout: o.LockTimeout, backend: o.State,
			fixedParallelism: o.Parallelism, maxParallelism: o.MaxParallelism,
			env: showEnv(procEnv), guard: &plancheck.Options{
				ClientVMs:       []string{"aws_instance." + o.VMResource, "terraform_data." + o.VMResource},
				HarmlessUpdates: o.HarmlessUpdates,
			}},
		state: stateReader{dir: dir, vmResource: o.VMResource, tf: tf},
		known: -1,
	}
	l.ops = newOpsTracker(ops, l.environment(), o.Now)
	l.wd.progress = l.progress
	l.q = newQueue(o.MaxCount, l.launch)
	return l, nil
}

// tofuEnv returns the environment for OpenTofu processes: env, or the
// process environment without the variables terraform-exec manages when
// env is nil. A TF_CLI_CONFIG_FILE that names no file becomes os.DevNull:
// OpenTofu reads a missing file as an empty configuration anyway, but
// first prints a warning on stdout, where terraform-exec then fails to
// parse the output of `version -json`.
func tofuEnv(env map[string]string) map[string]string {
	out := make(map[string]string)
	if env == nil {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				out[k] = v
			}
		}
		out = tfexec.CleanEnv(out)
	} else {
		maps.Copy(out, env)
	}
	if p := out["TF_CLI_CONFIG_FILE"]; p != "" {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			out["TF_CLI_CONFIG_FILE"] = os.DevNull
		}
	}
	return out
}

// showEnv is env for the OpenTofu processes the launcher starts itself, in
// automation mode as terraform-exec runs the others.
func showEnv(env map[string]string) []string {
	out := make([]string, 0, len(env)+2)
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return append(out, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
}

// TFVarsPath is where the runtime tfvars file lives.
func (l *Launcher) TFVarsPath() string {
	name := "terraform.runtime.tfvars"
	if l.opts.Format == tfvars.JSON {
		name += ".json"
	}
	return filepath.Join(l.dir, name)
}

// Schema returns the variables of the launcher's module.
func (l *Launcher) Schema() *tfvars.Schema { return l.schema }

// Trail returns the audit trail the launcher writes to.
func (l *Launcher) Trail() *audit.Trail { return l.trail }

// Prepare checks the OpenTofu binary (its version is asked once and
// cached) and initializes the working directory when its module changed,
// as the first launch would. A server calls it at start so that a missing
// binary or a broken module shows at once, and the first launch does not
// pay for either. It waits in the queue like a launch; after Close it
// returns ErrClosed.
func (l *Launcher) Prepare(ctx context.Context) error {
	return l.q.do(ctx, func(ctx context.Context) error {
		if err := l.wd.version(ctx); err != nil {
			return fmt.Errorf("launcher: %w", err)
		}
		return l.wd.init(ctx)
	})
}

// Check runs the checks of a launch that need neither OpenTofu nor EC2:
// the config, the environment and the binding of every variable the
// module requires (a missing allocator_sg_id names the flag and variable
// that supply it). A server calls it at start, so that a launch cannot
// fail on input it had from the beginning.
func (l *Launcher) Check(ctx context.Context) error {
	env, err := l.withTokens()
	if err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	in, err := CheckInputs(l.cfg, env)
	if err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	in.InstanceCount = 1
	if _, err := Render(l.schema, in, l.opts.Format); err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	return nil
}

// Launch adds req.Count client VMs and returns the result of the apply
// that created them. Requests that arrive while another apply runs are
// merged into the next apply, up to Options.MaxCount VMs; each keeps its
// own operation record (see Start). Cancelling ctx interrupts OpenTofu
// (with SIGINT, never a kill first) once every request merged into the
// same apply has been cancelled; the error then satisfies
// errors.Is(err, context.Canceled). After Close it returns ErrClosed.
func (l *Launcher) Launch(ctx context.Context, req Request) (Result, error) {
	op, err := l.newLaunchOp(ctx, req)
	if err != nil {
		return Result{}, err
	}
	req.op = op.ID
	return l.runLaunch(ctx, req)
}

// Start queues req as Launch does and returns its operation at once,
// queued; the launch goes on under ctx (a server passes its own lifetime,
// not the request's). Follow it with Operation, Watch or Wait.
func (l *Launcher) Start(ctx context.Context, req Request) (audit.Op, error) {
	op, err := l.newLaunchOp(ctx, req)
	if err != nil {
		return audit.Op{}, err
	}
	req.op = op.ID
	go l.runLaunch(ctx, req)
	return op, nil
}

func (l *Launcher) newLaunchOp(ctx context.Context, req Request) (audit.Op, error) {
	if req.Count < 1 || req.Count > l.opts.MaxCount {
		return audit.Op{}, fmt.Errorf("%w: %d; want 1 to %d", ErrInvalidCount, req.Count, l.opts.MaxCount)
	}
	return l.ops.create(ctx, audit.Launch, req.Actor, map[string]any{"num_vms": req.Count})
}

// runLaunch queues req; an error before the apply ran (a closed launcher,
// a cancelled request) finishes its operation here.
func (l *Launcher) runLaunch(ctx context.Context, req Request) (Result, error) {
	res, err := l.q.launch(ctx, req)
	if err != nil && res.LaunchID == "" {
		l.ops.finish(ctx, []int64{req.op}, "", err)
	}
	return res, err
}

// progress passes apply progress to Options.Progress and to the
// operations of the running apply.
func (l *Launcher) progress(p Progress) {
	if l.opts.Progress != nil {
		l.opts.Progress(p)
	}
	l.ops.progress(p)
}

// Close stops accepting launches, destroys and Prepare calls: they return
// ErrClosed. Those already queued still run; Close does not interrupt them
// (cancel their contexts for that).
func (l *Launcher) Close() error {
	l.q.close()
	return nil
}

// resolve is Resolve for the launcher's config and environment, with the
// tokens the environment leaves unset taken from the working directory.
func (l *Launcher) resolve(ctx context.Context, gpus GPUDetector) (Inputs, gpu.Info, error) {
	env, err := l.withTokens()
	if err != nil {
		return Inputs{}, gpu.Info{}, err
	}
	return Resolve(ctx, l.cfg, env, gpus)
}

// withTokens is the launcher's Env with the tokens it leaves unset taken
// from the working directory.
func (l *Launcher) withTokens() (Env, error) {
	env := l.env
	if env.AgentToken == "" || env.RegisterToken == "" {
		t, err := WorkdirTokens(l.dir)
		if err != nil {
			return env, err
		}
		env.AgentToken = cmp.Or(env.AgentToken, t.Agent)
		env.RegisterToken = cmp.Or(env.RegisterToken, t.Register)
	}
	return env, nil
}

// environment is the normalized environment name, the audit trail's key.
func (l *Launcher) environment() string {
	return l.cfg.EnvironmentName(l.env.Environment)
}
