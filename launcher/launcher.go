package launcher

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/tfvars"
)

// Conditions callers branch on.
var (
	// ErrInvalidCount: the request asks for fewer than 1 or more than
	// Options.MaxCount VMs.
	ErrInvalidCount = errors.New("invalid number of VMs")
	// ErrPlanRefused: the plan would delete or replace a client VM. A
	// launch never destroys running VMs. The error is a *PlanRefusedError.
	ErrPlanRefused = errors.New("plan would delete or replace client VMs")
	// ErrNothingLaunched: Destroy found no runtime tfvars in the working
	// directory (upstream answers 404 "no client VMs were launched").
	ErrNothingLaunched = errors.New("no client VMs were launched")
	// ErrClosed: the Launcher was closed.
	ErrClosed = errors.New("launcher closed")
)

// PlanRefusedError lists the client VM addresses a refused plan would
// have deleted or replaced.
type PlanRefusedError struct {
	Addresses []string
}

func (e *PlanRefusedError) Error() string {
	return fmt.Sprintf("%v: %s", ErrPlanRefused, strings.Join(e.Addresses, ", "))
}

func (e *PlanRefusedError) Unwrap() error { return ErrPlanRefused }

// Request asks for Count more client VMs.
type Request struct {
	Count int
	// Actor names who asked (an admin user name), for the audit trail.
	Actor string
}

// PlanSummary counts the resource changes of a plan.
type PlanSummary struct {
	Create, Update, Delete, Replace int
}

// Result describes the apply that covered a request.
type Result struct {
	LaunchID string
	// Existing VMs before the apply, Requested by all merged requests,
	// Total = Existing + Requested (the instance_count applied).
	Existing, Requested, Total int
	// Merged is how many requests this apply covered (1 when alone).
	Merged       int
	AllocatorURL string
	GPU          gpu.Info
	TFVarsPath   string
	TFVarsSHA256 string
	Plan         PlanSummary
	// Audit is the location of the launch's audit record.
	Audit string
	// Outputs are the module's outputs after the apply, as JSON,
	// sensitive ones included: do not log them.
	Outputs map[string]json.RawMessage
	// Duration of the whole launch.
	Duration time.Duration
}

// Progress reports apply progress: Done of Planned resource changes have
// completed.
type Progress struct {
	LaunchID      string
	Done, Planned int
	// Resource is the address that just completed, "" for the first event.
	Resource string
}

// Counter reports how many client VMs exist. The default counts the
// client VMs in the OpenTofu state; the upstream allocator counts the rows
// of its VM table.
type Counter interface {
	Count(ctx context.Context) (int, error)
}

// CounterFunc adapts a function to Counter.
type CounterFunc func(ctx context.Context) (int, error)

// Count calls f.
func (f CounterFunc) Count(ctx context.Context) (int, error) { return f(ctx) }

// Options tunes a Launcher. The zero value means the defaults.
type Options struct {
	// MaxCount is the most VMs one request may ask for, and the most one
	// apply adds: requests that would take a merged apply past it wait for
	// the apply after. Default 100.
	MaxCount int
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

// Launcher launches and destroys client VMs in one working directory.
// It is safe for concurrent use; Launch calls are merged (see the package
// doc). Call Close when done.
type Launcher struct {
	dir    string
	cfg    lablink.Config
	env    Env
	gpus   GPUDetector
	schema *tfvars.Schema
	opts   Options
	tf     *tfexec.Terraform
	trail  *audit.Trail

	applyMu sync.Mutex // held while OpenTofu runs in dir
	// known is the client VM count after the last apply, -1 when unknown.
	known int
	// initHash is the module hash init last ran for.
	initHash string
	// versionOnce starts the background version check (warmVersion).
	versionOnce sync.Once

	mu sync.Mutex
	// queue holds the batches waiting for an apply, oldest first; only the
	// last one takes new requests.
	queue   []*batch
	running bool
	closed  bool
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
	if o.MaxCount <= 0 {
		o.MaxCount = 100
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 2 * time.Minute
	}
	if o.VMResource == "" {
		o.VMResource = "lablink_vm"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
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
	if err := tf.SetEnv(tofuEnv(o.TofuEnv)); err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	trail := o.Trail
	if trail == nil {
		trail = audit.NewTrail(audit.NewDirStore(filepath.Join(dir, ".lablink", "audit")), &audit.Options{Now: o.Now})
	}
	return &Launcher{dir: dir, cfg: cfg, env: env, gpus: gpus, schema: schema, opts: o, tf: tf, trail: trail, known: -1}, nil
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
// pay for either.
func (l *Launcher) Prepare(ctx context.Context) error {
	l.applyMu.Lock()
	defer l.applyMu.Unlock()
	if _, _, err := l.tf.Version(ctx, false); err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	return l.init(ctx)
}

// Check runs the checks of a launch that need neither OpenTofu nor EC2:
// the config, the environment and the binding of every variable the
// module requires (a missing allocator_sg_id names the flag and variable
// that supply it). A server calls it at start, so that a launch cannot
// fail on input it had from the beginning.
func (l *Launcher) Check(ctx context.Context) error {
	in, _, err := l.resolve(ctx, noLookup{})
	if err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	in.InstanceCount = 1
	if _, err := Render(l.schema, in, l.opts.Format); err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	return nil
}

// Close stops accepting launches. Launches already merged into a batch
// still run; Close does not interrupt them (cancel their contexts for
// that).
func (l *Launcher) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

// batch is one apply's worth of merged requests.
type batch struct {
	reqs  []Request
	count int             // sum of reqs' counts
	ctx   context.Context // done when every member's context is done
	stop  context.CancelFunc
	live  int
	done  chan struct{}
	res   Result
	err   error
	stops []func() bool
}

// Launch adds req.Count client VMs and returns the result of the apply
// that created them. Requests that arrive while another apply runs are
// merged into the next apply. Cancelling ctx interrupts OpenTofu (with
// SIGINT, never a kill first) once every request merged into the same
// apply has been cancelled; the error then satisfies
// errors.Is(err, context.Canceled).
func (l *Launcher) Launch(ctx context.Context, req Request) (Result, error) {
	if req.Count < 1 || req.Count > l.opts.MaxCount {
		return Result{}, fmt.Errorf("%w: %d; want 1 to %d", ErrInvalidCount, req.Count, l.opts.MaxCount)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return Result{}, ErrClosed
	}
	var b *batch
	if n := len(l.queue); n > 0 && l.queue[n-1].count+req.Count <= l.opts.MaxCount {
		b = l.queue[n-1]
	} else {
		bctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		b = &batch{ctx: bctx, stop: stop, done: make(chan struct{})}
		l.queue = append(l.queue, b)
	}
	b.reqs = append(b.reqs, req)
	b.count += req.Count
	b.live++
	// The apply is cancelled only when every member has given up: one
	// impatient caller must not cancel VMs the others are waiting for.
	b.stops = append(b.stops, context.AfterFunc(ctx, func() {
		l.mu.Lock()
		b.live--
		last := b.live == 0
		l.mu.Unlock()
		if last {
			b.stop()
		}
	}))
	if !l.running {
		l.running = true
		go l.run()
	}
	l.mu.Unlock()

	// Cancellation reaches OpenTofu through b.ctx (see above); the caller
	// always waits for the apply its VMs are part of, so it never returns
	// while OpenTofu may still be creating them.
	<-b.done
	return b.res, b.err
}

func (l *Launcher) run() {
	for {
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		b := l.queue[0]
		l.queue = l.queue[1:]
		l.mu.Unlock()

		b.res, b.err = l.launch(b.ctx, b.reqs)
		for _, stop := range b.stops {
			stop()
		}
		b.stop()
		close(b.done)
	}
}

// launch runs one apply for the merged requests.
func (l *Launcher) launch(ctx context.Context, reqs []Request) (res Result, err error) {
	l.applyMu.Lock()
	defer l.applyMu.Unlock()
	start := l.opts.Now()
	l.warmVersion(ctx)

	requested := 0
	var actors []string
	for _, r := range reqs {
		requested += r.Count
		if r.Actor != "" && !slices.Contains(actors, r.Actor) {
			actors = append(actors, r.Actor)
		}
	}
	res = Result{Requested: requested, Merged: len(reqs)}
	actor := strings.Join(actors, ",")

	in, info, err := l.resolve(ctx, l.gpus)
	if err != nil {
		return res, l.recordFailure(ctx, actor, requested, fmt.Errorf("launch: %w", err))
	}
	res.AllocatorURL = in.URL.String()
	res.GPU = info

	existing, fromState, err := l.existing(ctx)
	if err != nil {
		return res, l.recordFailure(ctx, actor, requested, fmt.Errorf("launch: count existing VMs: %w", err))
	}
	in.InstanceCount = existing + requested
	rendered, err := Render(l.schema, in, l.opts.Format)
	if err != nil {
		return res, l.recordFailure(ctx, actor, requested, fmt.Errorf("launch: %w", err))
	}

	m := l.manifest("launch", actor, in, info, rendered, requested, existing)
	m, err = l.trail.Begin(ctx, m, l.auditCopy(rendered))
	if err != nil {
		return res, fmt.Errorf("launch: audit the attempt: %w", err)
	}
	res.LaunchID = m.LaunchID
	open := true // m is begun and not yet finished
	defer func() {
		res.Duration = l.opts.Now().Sub(start)
		if !open {
			return
		}
		var latest []byte
		if err == nil {
			latest = l.auditCopy(rendered)
		}
		res.Audit, err = l.finish(ctx, m, latest, err)
	}()

	// Until the apply starts, a failed launch puts the previous runtime
	// tfvars back: the file in the working directory is always the one
	// that was last applied, which Destroy and the audit's latest copy
	// rely on.
	applying := false
	restore, err := l.keepTFVars()
	if err != nil {
		return res, fmt.Errorf("launch: %w", err)
	}
	defer func() {
		if err != nil && !applying {
			if rerr := restore(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("launch: restore the previous runtime tfvars: %w", rerr))
			}
		}
	}()

	if err := writeTFVars(l.TFVarsPath(), rendered.Data); err != nil {
		return res, fmt.Errorf("launch: write tfvars: %w", err)
	}
	res.TFVarsPath, res.TFVarsSHA256 = l.TFVarsPath(), rendered.SHA256
	if err := l.init(ctx); err != nil {
		return res, err
	}

	plan, planFile, err := l.plan(ctx, m.LaunchID, false)
	defer os.Remove(planFile)
	if err != nil {
		return res, fmt.Errorf("launch: %w", err)
	}
	if prior := l.countVMs(plan.PriorState); fromState && prior != existing {
		// The state changed since this process last looked (another
		// process applied): re-plan with the count the plan itself saw.
		// History records are immutable, so the attempt begun with the
		// stale file is closed as superseded and a new one holds the file
		// that is planned and applied.
		stale := fmt.Errorf("%w: the state holds %d client VMs, not %d", errSuperseded, prior, existing)
		open = false
		m.Outcome, m.Error = outcome(stale), stale.Error()
		if _, err := l.trail.Finish(context.WithoutCancel(ctx), m, nil); err != nil {
			return res, fmt.Errorf("launch: audit the superseded attempt: %w", err)
		}
		existing = prior
		in.InstanceCount = existing + requested
		if rendered, err = Render(l.schema, in, l.opts.Format); err != nil {
			return res, fmt.Errorf("launch: %w", err)
		}
		next, err := l.trail.Begin(ctx, l.manifest("launch", actor, in, info, rendered, requested, existing), l.auditCopy(rendered))
		if err != nil {
			return res, fmt.Errorf("launch: audit the attempt: %w", err)
		}
		m, open, res.LaunchID = next, true, next.LaunchID
		if err := writeTFVars(l.TFVarsPath(), rendered.Data); err != nil {
			return res, fmt.Errorf("launch: write tfvars: %w", err)
		}
		res.TFVarsSHA256 = rendered.SHA256
		if plan, planFile, err = l.plan(ctx, m.LaunchID, false); err != nil {
			return res, fmt.Errorf("launch: %w", err)
		}
		defer os.Remove(planFile)
	}
	res.Existing, res.Total = existing, in.InstanceCount
	sum, refused := l.summarize(plan)
	res.Plan = sum
	m.Plan = &audit.PlanSummary{Add: sum.Create, Change: sum.Update, Destroy: sum.Delete, Replace: sum.Replace}
	if len(refused) > 0 {
		return res, &PlanRefusedError{Addresses: refused}
	}

	applying = true
	if err := l.apply(ctx, m.LaunchID, planFile, sum.Create+sum.Update+sum.Delete+sum.Replace); err != nil {
		l.known = -1
		return res, fmt.Errorf("launch: apply: %w", err)
	}
	l.known = in.InstanceCount
	res.Outputs = l.outputs(ctx)
	return res, nil
}

// resolve is Resolve for the launcher's config and environment, with the
// tokens the environment leaves unset taken from the working directory.
func (l *Launcher) resolve(ctx context.Context, gpus GPUDetector) (Inputs, gpu.Info, error) {
	env := l.env
	if env.AgentToken == "" || env.RegisterToken == "" {
		t, err := WorkdirTokens(l.dir)
		if err != nil {
			return Inputs{}, gpu.Info{}, err
		}
		env.AgentToken = cmp.Or(env.AgentToken, t.Agent)
		env.RegisterToken = cmp.Or(env.RegisterToken, t.Register)
	}
	return Resolve(ctx, l.cfg, env, gpus)
}

// noLookup answers every instance type with no GPU, asking no one: for
// Check, which must not need EC2.
type noLookup struct{}

func (noLookup) Detect(_ context.Context, instanceType string) (gpu.Info, error) {
	return gpu.Info{InstanceType: instanceType}, nil
}

// writeTFVars writes the runtime tfvars atomically; tests replace it to
// simulate a full disk.
var writeTFVars = tfvars.WriteFile

// errSuperseded closes an attempt whose tfvars were re-rendered because the
// plan found a different number of client VMs than expected.
var errSuperseded = errors.New("superseded by a new attempt")

// keepTFVars reads the runtime tfvars as they are now and returns a
// function that puts them back (or removes the file, when there was none).
func (l *Launcher) keepTFVars() (restore func() error, err error) {
	path := l.TFVarsPath()
	prev, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return func() error {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		}, nil
	case err != nil:
		return nil, err
	}
	return func() error {
		if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, prev) {
			return nil
		}
		return writeTFVars(path, prev)
	}, nil
}

// recordFailure records an attempt that failed before there was a tfvars
// file to audit (invalid config or environment, a failed GPU lookup): an
// attempt with an empty tfvars copy, finished at once with err. It returns
// err, joined with any error of the audit trail.
func (l *Launcher) recordFailure(ctx context.Context, actor string, requested int, err error) error {
	ctx = context.WithoutCancel(ctx)
	m := audit.Manifest{
		Environment:  l.environment(),
		Operation:    "launch",
		Actor:        actor,
		Requested:    requested,
		ConfigDigest: ConfigDigest(l.cfg),
	}
	m, aerr := l.trail.Begin(ctx, m, []byte{})
	if aerr != nil {
		return errors.Join(err, fmt.Errorf("launch: audit the attempt: %w", aerr))
	}
	_, err = l.finish(ctx, m, nil, err)
	return err
}

// finish records the outcome err of the attempt m (and, after a
// successful launch, latest as the latest copy). It returns the record's
// location and err joined with any error of the audit trail. It runs
// detached from ctx's cancellation, so canceled attempts are recorded too.
func (l *Launcher) finish(ctx context.Context, m audit.Manifest, latest []byte, err error) (string, error) {
	m.Outcome = outcome(err)
	if err != nil {
		m.Error = err.Error()
	}
	loc, aerr := l.trail.Finish(context.WithoutCancel(ctx), m, latest)
	if aerr != nil {
		err = errors.Join(err, fmt.Errorf("%s: audit the outcome: %w", m.Operation, aerr))
	}
	return loc, err
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "succeeded"
	case errors.Is(err, ErrPlanRefused):
		return "refused"
	case errors.Is(err, errSuperseded):
		return audit.OutcomeSuperseded
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "failed"
}

// existing returns the client VM count: from Options.Counter, else from
// what this process last applied, else from the local state file. The
// second result says the count came from state, so the plan's prior state
// may correct it.
func (l *Launcher) existing(ctx context.Context) (int, bool, error) {
	if l.opts.Counter != nil {
		n, err := l.opts.Counter.Count(ctx)
		return n, false, err
	}
	if l.known >= 0 {
		return l.known, true, nil
	}
	n, err := l.stateVMs(ctx)
	if errors.Is(err, errStateBusy) {
		// Another process is writing the state. The count is only a first
		// guess: the plan, which holds the state lock, reports the real
		// prior state, and launch re-plans when the two disagree.
		return 0, true, nil
	}
	return n, true, err
}

// errStateBusy: the local state file was caught half-written (OpenTofu
// truncates and rewrites it), which happens while another process holds
// the state lock.
var errStateBusy = errors.New("terraform.tfstate is being written by another OpenTofu process; try again")

// errStateEmpty: the local state file is empty. OpenTofu creates it empty
// when it locks a directory that has no state yet, and leaves it so until
// the first resource is saved; a rewrite also empties it for an instant.
var errStateEmpty = fmt.Errorf("%w: terraform.tfstate is empty", errStateBusy)

// stateVMs counts client VMs in the state. The local state file is read
// directly; with another backend OpenTofu is asked.
func (l *Launcher) stateVMs(ctx context.Context) (int, error) {
	data, err := os.ReadFile(filepath.Join(l.dir, "terraform.tfstate"))
	if errors.Is(err, fs.ErrNotExist) {
		if l.hasBackend() {
			st, err := l.tf.Show(ctx)
			if err != nil {
				return 0, err
			}
			return l.countVMs(st), nil
		}
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(data) == 0 {
		return 0, errStateEmpty
	}
	var raw rawState
	if err := json.Unmarshal(data, &raw); err != nil {
		return 0, fmt.Errorf("read terraform.tfstate: %w: %w", errStateBusy, err)
	}
	n := 0
	for _, r := range raw.Resources {
		if r.Mode == "managed" && r.Name == l.opts.VMResource && r.Module == "" {
			n += len(r.Instances)
		}
	}
	return n, nil
}

// rawState is the part of a local state file (format version 4) that the
// launcher reads without starting OpenTofu.
type rawState struct {
	Resources []struct {
		Module    string            `json:"module"`
		Mode      string            `json:"mode"`
		Name      string            `json:"name"`
		Instances []json.RawMessage `json:"instances"`
	} `json:"resources"`
	Outputs map[string]struct {
		Value json.RawMessage `json:"value"`
	} `json:"outputs"`
}

// hasBackend reports whether the module configures a non-local backend,
// in which case terraform.tfstate in the directory is not the state.
func (l *Launcher) hasBackend() bool {
	_, err := os.Stat(filepath.Join(l.dir, ".terraform", "terraform.tfstate"))
	return err == nil
}

func (l *Launcher) countVMs(st *tfjson.State) int {
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return 0
	}
	n := 0
	for _, r := range st.Values.RootModule.Resources {
		if r.Mode == tfjson.ManagedResourceMode && r.Name == l.opts.VMResource {
			n++
		}
	}
	return n
}

// init runs `init` when the module's files changed since the last
// successful init, or on first use in this process when the directory has
// never been initialized by a launcher.
func (l *Launcher) init(ctx context.Context) error {
	h, err := moduleHash(l.dir)
	if err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	if h == l.initHash {
		return nil
	}
	marker := filepath.Join(l.dir, ".lablink", "init.sha256")
	if b, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(b)) == h {
		l.initHash = h
		return nil
	}
	if err := l.tf.Init(ctx, tfexec.Upgrade(false)); err != nil {
		return fmt.Errorf("launch: init: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(marker), 0o700); err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	if err := os.WriteFile(marker, []byte(h+"\n"), 0o600); err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	l.initHash = h
	return nil
}

// moduleHash digests the module's *.tf files and the dependency lock file.
func moduleHash(dir string) (string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return "", err
	}
	names = append(names, filepath.Join(dir, ".terraform.lock.hcl"))
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(n)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(n), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// warmVersion asks for OpenTofu's version in the background, once per
// Launcher, while the first launch prepares its tfvars and plans.
// terraform-exec checks the version before `init` and `show -json` and
// caches it; without this, the first launch of a process (every CLI
// launch) would wait for one more OpenTofu process in series. Version
// holds terraform-exec's own lock, so `init` or `show` waits for this call
// rather than starting another; if it fails, they ask again.
func (l *Launcher) warmVersion(ctx context.Context) {
	l.versionOnce.Do(func() {
		go l.tf.Version(ctx, false)
	})
}

// plan runs `plan -out` and `show -json` of the saved plan.
func (l *Launcher) plan(ctx context.Context, id string, destroy bool) (*tfjson.Plan, string, error) {
	dir := filepath.Join(l.dir, ".lablink", "plans")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	planFile := filepath.Join(dir, id+".tfplan")
	opts := []tfexec.PlanOption{
		tfexec.Out(planFile),
		tfexec.VarFile(l.TFVarsPath()),
		tfexec.Lock(true),
		tfexec.LockTimeout(l.opts.LockTimeout.String()),
		tfexec.Refresh(true),
	}
	if destroy {
		opts = append(opts, tfexec.Destroy(true))
	}
	if _, err := l.tf.Plan(ctx, opts...); err != nil {
		return nil, planFile, fmt.Errorf("plan: %w", err)
	}
	plan, err := l.tf.ShowPlanFile(ctx, planFile)
	if err != nil {
		return nil, planFile, fmt.Errorf("show plan: %w", err)
	}
	return plan, planFile, nil
}

// summarize counts the plan's changes and lists client VMs it would delete
// or replace.
func (l *Launcher) summarize(plan *tfjson.Plan) (PlanSummary, []string) {
	var s PlanSummary
	var refused []string
	for _, rc := range plan.ResourceChanges {
		if rc.Change == nil || rc.Mode != tfjson.ManagedResourceMode {
			continue
		}
		a := rc.Change.Actions
		switch {
		case a.Replace():
			s.Replace++
		case a.Create():
			s.Create++
		case a.Update():
			s.Update++
		case a.Delete():
			s.Delete++
		default:
			continue
		}
		if (a.Replace() || a.Delete()) && rc.Name == l.opts.VMResource && rc.ModuleAddress == "" {
			refused = append(refused, rc.Address)
		}
	}
	return s, refused
}

// apply applies a saved plan, reporting progress from its output.
func (l *Launcher) apply(ctx context.Context, id, planFile string, planned int) error {
	pw := newProgressWriter(id, planned, l.opts.Progress)
	l.tf.SetStdout(pw)
	defer l.tf.SetStdout(nil)
	pw.start()
	return l.tf.Apply(ctx, tfexec.DirOrPlan(planFile), tfexec.Lock(true), tfexec.LockTimeout(l.opts.LockTimeout.String()))
}

// outputs reads the module outputs from the local state file; with another
// backend it asks OpenTofu. Outputs are informative: failures yield nil.
func (l *Launcher) outputs(ctx context.Context) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	if l.hasBackend() {
		meta, err := l.tf.Output(ctx)
		if err != nil {
			return nil
		}
		for k, v := range meta {
			out[k] = v.Value
		}
		return out
	}
	data, err := os.ReadFile(filepath.Join(l.dir, "terraform.tfstate"))
	if err != nil {
		return nil
	}
	var raw rawState
	if json.Unmarshal(data, &raw) != nil {
		return nil
	}
	for k, v := range raw.Outputs {
		out[k] = v.Value
	}
	return out
}

// manifest starts the audit manifest of an attempt.
func (l *Launcher) manifest(op, actor string, in Inputs, info gpu.Info, r Rendered, requested, existing int) audit.Manifest {
	m := audit.Manifest{
		Environment:  in.Environment,
		Operation:    op,
		Actor:        actor,
		Requested:    requested,
		Existing:     existing,
		Total:        in.InstanceCount,
		ConfigDigest: ConfigDigest(in.Config),
		TFVarsSHA256: r.SHA256,
		GPU:          &audit.GPUAnswer{InstanceType: in.Config.Machine.MachineType, NVIDIA: info.HasNVIDIA(), Source: string(info.Source)},
	}
	src := sources(r.Values)
	for _, name := range order() {
		source, ok := src[name]
		if !ok {
			continue
		}
		v, _ := l.schema.Lookup(name)
		sensitive := v != nil && v.Sensitive
		m.Variables = append(m.Variables, audit.VariableSource{
			Name: name, Source: source,
			Sensitive: sensitive, Redacted: sensitive && !l.opts.KeepSensitive,
		})
	}
	return m
}

// auditCopy is the tfvars as stored in the audit trail: sensitive
// variables redacted unless Options.KeepSensitive.
func (l *Launcher) auditCopy(r Rendered) []byte {
	if l.opts.KeepSensitive {
		return r.Data
	}
	red, names := l.schema.Redact(r.Values)
	if len(names) == 0 {
		return r.Data
	}
	data, err := tfvars.Render(red, &tfvars.Options{Format: r.Format, Order: order(), Header: header + "\nRedacted: " + strings.Join(names, ", ")})
	if err != nil {
		// Redacted values are plain strings; rendering them cannot fail
		// where rendering the originals succeeded.
		return nil
	}
	return data
}

// ConfigDigest is "sha256:<hex>" of cfg with its passwords blanked, so the
// audit trail can tell which config a launch used without holding a hash
// of a secret.
func ConfigDigest(cfg lablink.Config) string {
	cfg.DB.Password = ""
	cfg.App.AdminPassword = ""
	b, _ := json.Marshal(cfg) // a struct of strings, ints and bools always marshals
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
