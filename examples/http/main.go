// Command http serves the allocator's launch API over HTTP, and an
// operator's console in the browser: the upstream LabLink allocator's
// POST /api/launch (and destroy, status, operations and scheduled
// destruction) in front of a launcher.Launcher.
//
//	go run ./examples/http --config config.yaml --workdir /var/lib/lablink/client \
//	    [--addr 127.0.0.1:8080] [--tls-cert FILE --tls-key FILE] [--module local|aws|DIR] \
//	    [--terraform PATH] [--audit SPEC] [--gpu auto|catalog|true|false] [--schedule-poll 30s] \
//	    [--insecure-dev]
//
// The admin is app.admin_user with app.admin_password. API clients send
// them with HTTP Basic auth on every request; browsers sign in at /signin
// and get a session cookie (HttpOnly, SameSite=Strict, Secure over TLS)
// that lasts app.admin_session_timeout_minutes. Failed sign-ins slow down
// per client address. Every request but GET, HEAD and OPTIONS that a
// browser sends from another origin is refused (403), whatever its
// credentials: a page elsewhere cannot launch or destroy anything with
// the operator's cookie or cached password. Clients that send no browser
// headers (curl, scripts) are not affected.
//
// The server refuses to start with a default, short or placeholder
// password (upstream's unfilled "MISSING" included) unless --insecure-dev
// is given, which in turn refuses any listen address but a loopback one.
// --tls-cert and --tls-key serve HTTPS. The allocator's public IP and
// environment come from ALLOCATOR_PUBLIC_IP (required), ENVIRONMENT (else
// the config's environment), ALLOCATOR_FQDN and CLOUD_INIT_LOG_GROUP, as
// upstream. The allocator's security group comes from ALLOCATOR_SG_ID,
// else, on EC2, from instance metadata; the agent and register tokens
// from LABLINK_AGENT_TOKEN and LABLINK_REGISTER_TOKEN, else those kept in
// the workdir. The server refuses to start when one of them is missing or
// invalid, naming it, rather than failing every launch. Deprecated config
// keys are logged as warnings and keep their old meaning. A workdir the
// server creates is readable by its owner only (0700): it holds the state
// and the tokens.
//
// Launches and destroys are operations, as upstream's: POST /api/launch
// and /api/destroy answer 202 {"job_id": N, "status": "queued"} (a
// redirect to the console's page of operation N for other than JSON
// clients; ?wait=1 answers when done), and GET /api/operations,
// /api/operations/N and /api/operations/N/events (Server-Sent Events)
// follow them. JSON bodies are read strictly (an unknown field, a key
// given twice or data after the value is a 400), and every error is
// {"error": "..."} (with "launch_id" when an audit record tells more).
// The console's pages are under / (upstream's /admin pages redirect
// there): an overview, launch with a preview, destroy with a typed
// confirmation, operations with live progress and their audit records,
// and the client VMs. --state local|s3|s3://BUCKET/KEY chooses where
// OpenTofu keeps the state (--state-path-style and --state-not-aws for
// MinIO), --max-count bounds a request. At start the server marks the
// operations a dead allocator left as interrupted and clears its stale S3
// lock (launcher.Open).
//
// A class's schedule destroys (or launches) client VMs at set times, once
// or on an RFC 5545 RRULE in a time zone: POST /api/schedule-destruction
// takes upstream's JSON ({"schedule_name", "destruction_time" (ISO 8601,
// "Z" allowed), "recurrence_rule" (or null), "notification_enabled",
// "notification_hours_before"}, plus "time_zone" and
// "grace_period_seconds") and answers {"success": true, "schedule_id",
// "message"}; POST /api/schedule-launch takes "num_vms" and "launch_time"
// instead. GET of either lists its schedules (?status=), GET of
// .../ID shows one with its occurrences and next times, DELETE of
// .../ID cancels it. Schedules live in the audit store, so every
// allocator sharing it sees them; each server runs them (package
// schedule): a due time becomes an operation like any other, queued
// behind a running one, and is claimed in the store so that it runs once
// however many allocators share it. --schedule-poll is how often the
// server looks for schedules others created.
//
// On SIGTERM or SIGINT it stops running schedules and accepting
// connections, interrupts in-flight applies (OpenTofu gets SIGINT and
// releases its state lock), waits for them at most --shutdown-timeout,
// and exits.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/schedule"
	"github.com/lablink-go/lablink/tfvars"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2 // bad flags, invalid config or environment, refused password
)

type flags struct {
	config, workdir, addr, module, terraform, audit string
	tlsCert, tlsKey                                 string
	gpu                                             setup.GPUMode
	insecureDev                                     bool
	logLevel                                        slog.Level
	shutdownTimeout, schedulePoll                   time.Duration
	state                                           setup.State // --state, --state-*, --max-count
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is the server: it checks its flags, config and environment (read
// through getenv), serves until ctx is done (main cancels it on SIGTERM
// or SIGINT), shuts down as serve describes and returns the exit code.
// Logs go to stderr as JSON lines. The SDK's AWS configuration and the
// OpenTofu processes still see the real process environment.
func run(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) int {
	f, code := parseFlags(args, stderr)
	if code != exitOK {
		return code
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: f.logLevel}))

	cfg, warns, err := lablink.LoadConfig(f.config)
	for _, w := range warns {
		log.Warn("deprecated config key", "path", w.Path, "line", w.Line, "removed_in", w.Release, "todo", w.Replacement)
	}
	if err != nil {
		log.Error("invalid config", "path", f.config, "err", err)
		return exitUsage
	}
	if err := checkAdminPassword(cfg.App); err != nil {
		if !f.insecureDev {
			log.Error("refusing to start; set a strong app.admin_password or pass --insecure-dev for a local trial",
				"err", err)
			return exitUsage
		}
		log.Warn("!!! INSECURE: serving with a weak admin password because of --insecure-dev; "+
			"anyone who can reach this address can launch and destroy VMs. Never do this in production. !!!",
			"reason", err.Error(), "addr", f.addr)
	}

	env := clientvars.EnvFrom(getenv)
	env.ConfigDir = filepath.Dir(f.config)

	awsCfg := &setup.AWS{Region: cfg.App.Region}
	opts := &launcher.Options{Binary: f.terraform, Env: &env, Logger: log}
	var store audit.Store // nil: the launcher's default, under the workdir
	if f.audit != "" {
		if store, err = audit.ParseStore(ctx, f.audit, awsCfg.Config); err != nil {
			log.Error("audit store", "spec", f.audit, "err", err)
			return exitUsage
		}
		opts.Trail = audit.NewTrail(store, nil)
		opts.Operations = audit.NewOpStore(store, nil) // operations next to the trail
	}
	if err := f.state.Apply(ctx, cfg, cfg.EnvironmentName(env.Environment), awsCfg.Config, opts); err != nil {
		log.Error("state", "spec", f.state.Spec, "err", err)
		return exitUsage
	}

	g, err := setup.ChooseGPU(ctx, f.gpu, awsCfg)
	if err != nil {
		log.Error("gpu detector", "err", err)
		return exitFailure
	}
	if g.NoCredentials != nil {
		log.Warn("no AWS credentials; GPU support comes from the offline catalog of "+gpu.CatalogDate()+
			"; pass --gpu auto to require EC2", "err", g.NoCredentials)
	}
	// Before the workdir is touched: a missing or invalid input stops the
	// server with its name instead of failing each launch with a 500. GPU
	// support is not looked up: that is each launch's business (cached per
	// instance type), and the server must not need EC2 to start.
	inputs, err := clientvars.CheckInputs(cfg, env)
	if err != nil {
		log.Error("refusing to start: every launch would fail; set ALLOCATOR_PUBLIC_IP to the allocator's public IP, "+
			"and ENVIRONMENT, ALLOCATOR_FQDN and CLOUD_INIT_LOG_GROUP, when set, to valid values",
			"err", err)
		return exitUsage
	}
	// The module's variables too, on the module that will be applied
	// (the workdir's own, else the one --module names), before it is
	// written into the workdir: a refused start leaves no file behind.
	if err := checkModule(ctx, f, cfg, env); err != nil {
		log.Error("refusing to start: every launch would fail", "err", err)
		return exitUsage
	}
	tlsConfig, err := loadTLS(f.tlsCert, f.tlsKey)
	if err != nil {
		log.Error("refusing to start", "err", err)
		return exitUsage
	}
	if err := prepareWorkdir(f.workdir, f.module, log); err != nil {
		log.Error("prepare workdir", "err", err)
		return exitFailure
	}
	if opts.Inventory, err = setup.Inventory(ctx, f.module, f.workdir, cfg, env, awsCfg); err != nil {
		log.Warn("no inventory of the cloud's VMs: VMs an interrupted apply created outside the state are not reported",
			"err", err)
	}
	// Open checks the module's variables and the binary, takes over from
	// a dead predecessor (its OpenTofu waited for, its operations marked
	// interrupted, a lock nobody holds cleared) and initializes, so that
	// a broken setup fails at start and the first launch does not wait.
	l, err := launcher.Open(ctx, f.workdir, cfg, g.Detector, opts)
	if errors.Is(err, launcher.ErrInvalidInput) {
		log.Error("refusing to start: every launch would fail", "err", err)
		return exitUsage
	}
	if err != nil {
		log.Error("open launcher", "err", err)
		return exitFailure
	}
	logRecovery(l.Recovery(), log)
	return listenAndServe(ctx, f, l, cfg, store, serverOptions{Logger: log, Environment: l.Environment(),
		AllocatorURL: inputs.URL.String()}, tlsConfig)
}

// listenAndServe serves l on f.addr, with the schedules of store (nil:
// the default store under the workdir), until ctx is done, and shuts
// the schedules and l down.
func listenAndServe(ctx context.Context, f flags, l *launcher.Launcher, cfg lablink.Config, store audit.Store,
	opts serverOptions, tlsConfig *tls.Config) int {
	log := opts.Logger
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		_ = l.Close()
		log.Error("listen", "err", err)
		return exitFailure
	}
	cal, sched, err := startSchedules(ctx, l, store, l.Environment(), f.workdir, schedulerOwner(ln.Addr().String()), f.schedulePoll, log)
	if err != nil {
		_ = ln.Close()
		_ = l.Close()
		log.Error("schedules", "err", err)
		return exitFailure
	}
	opts.Calendar = cal
	h, err := newServer(l, cfg, opts)
	if err != nil {
		_ = sched.Close()
		_ = ln.Close()
		_ = l.Close()
		log.Error("console", "err", err)
		return exitFailure
	}
	log.Info("lablink http", "workdir", f.workdir, "module", f.module, "tls", tlsConfig != nil)
	srv := newHTTPServer(h, log)
	srv.TLSConfig = tlsConfig
	if err := serve(ctx, srv, ln, schedulerFirst(ctx, l, sched), f.shutdownTimeout, log); err != nil {
		log.Error("serve", "err", err)
		return exitFailure
	}
	return exitOK
}

func parseFlags(args []string, stderr io.Writer) (flags, int) {
	var f flags
	set := flag.NewFlagSet("lablink-http", flag.ContinueOnError)
	set.SetOutput(stderr)
	set.StringVar(&f.config, "config", "", "allocator config.yaml (required)")
	set.StringVar(&f.workdir, "workdir", "", "OpenTofu working directory; the module is written there when it holds none (required)")
	set.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address")
	set.StringVar(&f.module, "module", "local", "client module to write into a workdir that holds none, and to compare one it holds with: local, aws, or a directory to copy")
	set.StringVar(&f.terraform, "terraform", "", "OpenTofu or Terraform binary (default $TOFU_PATH, then tofu or terraform on PATH)")
	set.StringVar(&f.audit, "audit", "", "audit store spec (default: a directory under the workdir)")
	gpuMode := set.String("gpu", "", setup.GPUUsage)
	set.BoolVar(&f.insecureDev, "insecure-dev", false, "allow a weak admin password (local trials only: loopback addresses only)")
	set.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs --tls-key")
	set.StringVar(&f.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	set.TextVar(&f.logLevel, "log-level", slog.LevelInfo, "the least level logged: DEBUG, INFO, WARN or ERROR")
	set.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 2*time.Minute,
		"how long shutdown waits for interrupted applies; keep it below the process manager's kill timeout")
	set.DurationVar(&f.schedulePoll, "schedule-poll", schedule.DefaultPollInterval,
		"how often to read the audit store for schedules that other allocators or the CLI created or cancelled")
	f.state.Register(set)
	if err := set.Parse(args); err != nil {
		return f, exitUsage
	}
	var errs []error
	if f.config == "" {
		errs = append(errs, errors.New("--config is required"))
	}
	if f.workdir == "" {
		errs = append(errs, errors.New("--workdir is required"))
	}
	if _, err := terraform.Open(f.module); err != nil {
		errs = append(errs, fmt.Errorf("--module: %w", err))
	}
	var err error
	if f.gpu, err = setup.ParseGPUMode(*gpuMode); err != nil {
		errs = append(errs, err)
	}
	if err := f.state.Check(); err != nil {
		errs = append(errs, err)
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if f.insecureDev && !loopback(f.addr) {
		errs = append(errs, fmt.Errorf("--insecure-dev serves only on a loopback address (127.0.0.1:PORT, [::1]:PORT or localhost:PORT), "+
			"where nobody else can reach its weak password; --addr is %q", f.addr))
	}
	if f.shutdownTimeout <= 0 {
		errs = append(errs, errors.New("--shutdown-timeout must be positive"))
	}
	if f.schedulePoll <= 0 {
		errs = append(errs, errors.New("--schedule-poll must be positive"))
	}
	if set.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", set.Args()))
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(stderr, err)
		set.Usage()
		return f, exitUsage
	}
	return f, exitOK
}

// checkModule runs a launch's checks (config, run-time inputs, a render
// of the module's variables for one VM) on the module the server will
// apply, without writing anything.
func checkModule(ctx context.Context, f flags, cfg lablink.Config, env clientvars.Env) error {
	files, err := moduleFiles(f.workdir, f.module)
	if err != nil {
		return err
	}
	schema, err := tfvars.LoadSchemaFS(files, ".")
	if err != nil {
		return fmt.Errorf("the module to apply: %w", err)
	}
	if env, err = clientvars.DiscoverSecurityGroup(ctx, env, schema, nil); err != nil {
		return err
	}
	return setup.CheckLaunch(cfg, env, schema, 1)
}

// moduleFiles are the files of the module the server will apply: the
// workdir's when it holds one, else those --module names.
func moduleFiles(workdir, spec string) (fs.FS, error) {
	has, err := terraform.HasModule(workdir)
	switch {
	case err != nil:
		return nil, fmt.Errorf("--workdir %s: %w", workdir, err)
	case has:
		return os.DirFS(workdir), nil
	case slices.Contains(terraform.Names(), spec):
		return terraform.FS(spec)
	}
	return os.DirFS(spec), nil
}
