package launcher

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/ec2meta"
	"github.com/lablink-go/lablink/launcher/internal/oplog"
	"github.com/lablink-go/lablink/launcher/internal/queue"
	"github.com/lablink-go/lablink/launcher/internal/tofu"
	"github.com/lablink-go/lablink/tfstate"
	"github.com/lablink-go/lablink/tfvars"
)

// Options tune a Launcher. The zero value means the defaults; every field
// is optional.
type Options struct {
	// Binary is the OpenTofu or Terraform executable. Default: FindBinary
	// ($TOFU_PATH, then tofu, then terraform on PATH).
	Binary string
	// Env holds the run-time inputs. Default: clientvars.EnvFrom(os.Getenv),
	// with ConfigDir the current directory. Tokens it leaves unset are
	// kept in the working directory (clientvars.WorkdirTokens); an unset
	// allocator security group is read from EC2 instance metadata when the
	// module needs one (see IMDS).
	Env *clientvars.Env
	// NoLaunch opens the launcher for Status and Destroy only (a destroy
	// reads the runtime tfvars last applied): Open does not check or
	// complete the inputs a launch needs, and Launch returns ErrNoLaunch.
	// Default false.
	NoLaunch bool
	// IMDS answers the allocator's security group on EC2. Default
	// ec2meta.NewClient(); off EC2 it answers nothing, quickly.
	IMDS ec2meta.GetMetadataAPIClient
	// MaxCount is the most VMs one request may ask for, and the most one
	// apply adds: requests that would take a merged apply past it wait for
	// the apply after. Default DefaultMaxCount (500), a large class at
	// once.
	MaxCount int
	// Parallelism, when positive, is OpenTofu's -parallelism for every
	// apply and destroy. Default 0: one per planned resource change, at
	// least OpenTofu's default 10 and at most MaxParallelism, so that a
	// class of VMs is created in the time of one.
	Parallelism int
	// MaxParallelism bounds the chosen parallelism. Default 100: each VM
	// is one RunInstances call, and EC2 throttles RunInstances requests
	// per account and region (see docs/upstream.md).
	MaxParallelism int
	// LockTimeout is how long OpenTofu waits for the state lock held by
	// another process before failing. Default 2 minutes.
	LockTimeout time.Duration
	// Format of the runtime tfvars file. Default tfvars.HCL
	// (terraform.runtime.tfvars); tfvars.JSON writes
	// terraform.runtime.tfvars.json.
	Format tfvars.Format
	// Counter counts the existing client VMs. Default: the client VMs in
	// the OpenTofu state.
	Counter Counter
	// Trail records every attempt. Default: a directory store under
	// <workdir>/.lablink/audit.
	Trail *audit.Trail
	// Operations keeps an operation record of every launch and destroy.
	// Default: next to the default audit trail.
	Operations *audit.OpStore
	// KeepSensitive stores sensitive variables unredacted in the audit
	// copy. Default false: they are replaced by "(sensitive)".
	KeepSensitive bool
	// HarmlessUpdates lists attribute paths of the client VMs ("tags")
	// whose change in place an apply may make; see plancheck.Options.
	// Default none.
	HarmlessUpdates []string
	// State, when set, chooses where OpenTofu keeps the state: the launcher
	// writes tfstate.FileName into the working directory (replacing any
	// backend the module declares) and passes the backend settings at
	// init. Default nil: the module's own backend configuration, as is.
	State *tfstate.Backend
	// StateClient reads the S3 lock object of State at Open; nil leaves a
	// stale S3 lock alone (Open reports it).
	StateClient tfstate.GetObjectAPIClient
	// Inventory lists the client VMs the cloud holds, so that Status and
	// every launch report those the state does not (a VM created by an
	// apply that was killed before it saved the state). Default nil: no
	// such report.
	Inventory Inventory
	// VMResource is the resource name of the client VMs in the module.
	// Default "lablink_vm".
	VMResource string
	// Progress, when set, receives the progress of every apply: the
	// planned changes as soon as the plan is read, then each completed
	// one. It is called from the launcher's goroutine and must not block
	// for long. Operation records (Watch) carry the same.
	Progress func(Progress)
	// TofuEnv is the whole environment of OpenTofu processes, which must
	// not hold the variables terraform-exec manages
	// (tfexec.ProhibitedEnv). Default: the process environment without
	// those (TF_VAR_*, TF_CLI_ARGS*, TF_LOG*, ...), so that the runtime
	// tfvars alone decide what is applied. A TF_CLI_CONFIG_FILE naming no
	// file becomes os.DevNull.
	TofuEnv map[string]string
	// Logger receives what the launcher does on its own: recovery at
	// Open, waiting for an OpenTofu an earlier process left running.
	// Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// withDefaults is o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	o.MaxCount = cmp.Or(max(o.MaxCount, 0), DefaultMaxCount)
	o.MaxParallelism = cmp.Or(max(o.MaxParallelism, 0), 100)
	o.LockTimeout = cmp.Or(max(o.LockTimeout, 0), 2*time.Minute)
	o.VMResource = cmp.Or(o.VMResource, "lablink_vm")
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Launcher launches and destroys the client VMs of one working directory.
// It is safe for concurrent use. Launches and destroys wait in one queue
// and run one at a time, so OpenTofu never runs twice at once in the
// directory; launch requests that wait together are merged (see the
// package doc). Make one with Open; end it with Shutdown or Close.
type Launcher struct {
	dir    string
	cfg    lablink.Config
	env    clientvars.Env
	gpus   GPUDetector
	schema *tfvars.Schema
	opts   Options
	trail  *audit.Trail
	opsDB  *audit.OpStore
	ops    *oplog.Log
	tofu   *tofu.Runner
	wd     *workingDir
	q      *queue.Queue[Request, Result]
	digest string
	// windows are the lifetimes of OpenTofu processes that may have left
	// the S3 state locked.
	windows *lockWindows
	// found is what Open found of an earlier process.
	found Recovery

	// wg counts the goroutines of Start; stopped (under mu) refuses more.
	wg       sync.WaitGroup
	stopped  bool
	closing  sync.Once
	closeErr error

	// mu guards known and digests.
	mu sync.Mutex
	// known is the client VM count after the last apply, -1 when unknown.
	known int
	// digests maps launch IDs to the config digest of their record.
	digests map[string]string
}

// GPUDetector answers whether an instance type has NVIDIA GPUs:
// *gpu.Detector (asking EC2) and gpu.Catalog (offline) satisfy it.
type GPUDetector = clientvars.GPUDetector

// tofuEnv returns the environment for OpenTofu processes: env, or the
// process environment without the variables terraform-exec manages when
// env is nil. A TF_CLI_CONFIG_FILE that names no file becomes os.DevNull:
// OpenTofu reads a missing file as an empty configuration anyway, but
// first prints a warning on stdout, which breaks reading its JSON.
func tofuEnv(env map[string]string) []string {
	m := make(map[string]string)
	if env == nil {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				m[k] = v
			}
		}
		m = tfexec.CleanEnv(m)
	} else {
		maps.Copy(m, env)
	}
	if p := m["TF_CLI_CONFIG_FILE"]; p != "" {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			m["TF_CLI_CONFIG_FILE"] = os.DevNull
		}
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// TFVarsPath is where the runtime tfvars file lives.
func (l *Launcher) TFVarsPath() string { return tfvarsPath(l.dir, l.opts.Format) }

func tfvarsPath(dir string, f tfvars.Format) string {
	name := "terraform.runtime.tfvars"
	if f == tfvars.JSON {
		name += ".json"
	}
	return filepath.Join(dir, name)
}

// Recovery reports what Open found of an earlier process in the working
// directory and did about it.
func (l *Launcher) Recovery() Recovery { return l.found }

// environment is the normalized environment name, the audit trail's key.
func (l *Launcher) environment() string {
	return l.cfg.EnvironmentName(l.env.Environment)
}

// setKnown records the client VM count after an apply (-1: unknown).
func (l *Launcher) setKnown(n int) {
	l.mu.Lock()
	l.known = n
	l.mu.Unlock()
}

func (l *Launcher) getKnown() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.known
}

// Shutdown stops taking work (Start, Launch and Destroy then return
// ErrClosed), interrupts what runs and waits (an interrupted OpenTofu
// stops gracefully and saves its state: one SIGINT, never a kill), then
// stores what the operation log could not store yet. It returns when all
// of that is done, or with ctx's error when ctx ends first: OpenTofu then
// goes on alone, in its own process group, and a later Open waits for it.
// Requests queued but not started end as interrupted without running.
func (l *Launcher) Shutdown(ctx context.Context) error {
	l.stop()
	l.q.Close()
	l.q.Interrupt()
	return l.drain(ctx)
}

// Close stops taking work and waits, without interrupting anything, until
// every queued launch and destroy has ended and every goroutine the
// launcher started has returned. Use Shutdown to interrupt.
func (l *Launcher) Close() error {
	l.stop()
	l.q.Close()
	return l.drain(context.Background())
}

// stop refuses new work.
func (l *Launcher) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

func (l *Launcher) isStopped() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopped
}

// drain waits for the queue and Start's goroutines, then closes the
// operation log, once.
func (l *Launcher) drain(ctx context.Context) error {
	if err := l.q.Wait(ctx); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	l.closing.Do(func() {
		flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if !l.ops.Close(flush) {
			l.closeErr = errors.New("launcher: some operation records could not be stored")
		}
	})
	return l.closeErr
}
