// Command http serves the allocator's launch API over HTTP: the upstream
// LabLink allocator's POST /api/launch (and destroy and status) in front
// of a launcher.Launcher.
//
//	go run ./examples/http --config config.yaml --workdir /var/lib/lablink/client \
//	    [--addr 127.0.0.1:8080] [--module local|aws] [--terraform PATH] \
//	    [--audit SPEC] [--gpu auto|catalog] [--insecure-dev]
//
// Every /api/ route needs HTTP Basic auth with app.admin_user and
// app.admin_password; the server refuses to start with a default, short
// or placeholder password (upstream's unfilled "MISSING" included) unless
// --insecure-dev is given. The allocator's public IP and environment come
// from ALLOCATOR_PUBLIC_IP (required), ENVIRONMENT (else the config's
// environment), ALLOCATOR_FQDN and CLOUD_INIT_LOG_GROUP, as upstream. The
// allocator's security group comes from ALLOCATOR_SG_ID, else, on EC2, from
// instance metadata; the agent and register tokens from LABLINK_AGENT_TOKEN
// and LABLINK_REGISTER_TOKEN, else those kept in the workdir. The server
// refuses to start when one of them is missing or invalid, naming it,
// rather than failing every launch. Deprecated config keys are logged as
// warnings and keep their old meaning.
//
// On SIGTERM or SIGINT it stops accepting connections, interrupts
// in-flight applies (OpenTofu gets SIGINT and releases its state lock),
// waits for them at most --shutdown-timeout, and exits.
package main

import (
	"context"
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
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2 // bad flags, invalid config or environment, refused password
)

type flags struct {
	config, workdir, addr, module, terraform, audit, gpu string
	insecureDev                                          bool
	shutdownTimeout                                      time.Duration
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
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	f, code := parseFlags(args, stderr)
	if code != exitOK {
		return code
	}

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

	env := launcher.EnvFrom(getenv)
	env.ConfigDir = filepath.Dir(f.config)
	if err := checkEnv(ctx, cfg, env); err != nil {
		log.Error("refusing to start: every launch would fail; set ALLOCATOR_PUBLIC_IP to the allocator's public IP, "+
			"and ENVIRONMENT, ALLOCATOR_FQDN and CLOUD_INIT_LOG_GROUP, when set, to valid values",
			"err", err)
		return exitUsage
	}

	awsCfg := &awsLoader{region: cfg.App.Region}
	opts := &launcher.Options{}
	if f.audit != "" {
		store, err := audit.ParseStore(ctx, f.audit, awsCfg.load)
		if err != nil {
			log.Error("audit store", "spec", f.audit, "err", err)
			return exitUsage
		}
		opts.Trail = audit.NewTrail(store, nil)
	}

	if err := prepareWorkdir(f.workdir, f.module, log); err != nil {
		log.Error("prepare workdir", "err", err)
		return exitFailure
	}
	bin, err := launcher.FindBinary(f.terraform)
	if err != nil {
		log.Error("find OpenTofu", "err", err)
		return exitFailure
	}
	gpus, err := gpuDetector(ctx, f.gpu, awsCfg, log)
	if err != nil {
		log.Error("gpu detector", "err", err)
		return exitFailure
	}
	schema, err := tfvars.LoadSchema(f.workdir)
	if err != nil {
		log.Error("module", "err", err)
		return exitFailure
	}
	if env, err = launcher.DiscoverSecurityGroup(ctx, env, schema, nil); err != nil {
		log.Error("allocator security group", "err", err)
		return exitFailure
	}
	l, err := launcher.New(f.workdir, bin, cfg, env, gpus, opts)
	if err != nil {
		log.Error("launcher", "err", err)
		return exitFailure
	}
	if err := l.Check(ctx); err != nil {
		_ = l.Close()
		log.Error("refusing to start: every launch would fail", "err", err)
		return exitUsage
	}

	// Init and the binary's version now, so a broken setup fails at start
	// and the first launch does not wait for them.
	if err := l.Prepare(ctx); err != nil {
		_ = l.Close()
		log.Error("prepare launcher", "err", err)
		return exitFailure
	}

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		_ = l.Close()
		log.Error("listen", "err", err)
		return exitFailure
	}
	log.Info("lablink http", "workdir", f.workdir, "module", f.module, "binary", bin, "gpu", fmt.Sprintf("%T", gpus))
	srv := newHTTPServer(newServer(l, cfg, serverOptions{Logger: log}), log)
	if err := serve(ctx, srv, ln, l, f.shutdownTimeout, log); err != nil {
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
	set.StringVar(&f.workdir, "workdir", "", "OpenTofu working directory; the module is written there when it is empty (required)")
	set.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address")
	set.StringVar(&f.module, "module", "local", "client module to write into an empty workdir: local or aws")
	set.StringVar(&f.terraform, "terraform", "", "OpenTofu or Terraform binary (default $TOFU_PATH, then tofu or terraform on PATH)")
	set.StringVar(&f.audit, "audit", "", "audit store spec (default: a directory under the workdir)")
	set.StringVar(&f.gpu, "gpu", "", "GPU detector: auto (EC2, region app.region) or catalog (offline); default auto when AWS credentials are found, else catalog")
	set.BoolVar(&f.insecureDev, "insecure-dev", false, "allow a weak admin password (local trials only)")
	set.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 2*time.Minute,
		"how long shutdown waits for interrupted applies; keep it below the process manager's kill timeout")
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
	if _, err := terraform.FS(f.module); err != nil {
		errs = append(errs, fmt.Errorf("--module: %w", err))
	}
	if f.gpu != "" && f.gpu != "auto" && f.gpu != "catalog" {
		errs = append(errs, fmt.Errorf("--gpu must be auto or catalog, not %q", f.gpu))
	}
	if f.shutdownTimeout <= 0 {
		errs = append(errs, errors.New("--shutdown-timeout must be positive"))
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

// checkEnv runs, at start, the checks every launch makes of cfg and env
// (launcher.Resolve), so that a missing or invalid variable stops the
// server with its name instead of failing each launch with a 500. It
// reports every problem at once. GPU support is not looked up: that is
// each launch's business (cached per instance type), and the server must
// not need EC2 to start.
func checkEnv(ctx context.Context, cfg lablink.Config, env launcher.Env) error {
	_, _, err := launcher.Resolve(ctx, cfg, env, noGPULookup{})
	return err
}

// noGPULookup answers every instance type without asking anyone, for
// checkEnv.
type noGPULookup struct{}

func (noGPULookup) Detect(_ context.Context, instanceType string) (gpu.Info, error) {
	return gpu.Info{InstanceType: instanceType}, nil
}

// prepareWorkdir writes the module into dir when dir is missing or empty.
// A directory that already holds *.tf files is the state of an earlier
// run and is used as it is; it is only checked against the embedded
// module, and a difference is logged, not overwritten.
func prepareWorkdir(dir, module string, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
		if err := terraform.Materialize(module, dir); err != nil {
			return err
		}
		log.Info("wrote module", "module", module, "workdir", dir)
		return nil
	}
	if err != nil {
		return err
	}
	tf, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	if len(tf) == 0 {
		return fmt.Errorf("%s is neither empty nor an OpenTofu module directory", dir)
	}
	if diff := moduleDiff(dir, module); len(diff) > 0 {
		log.Warn("workdir module differs from the embedded one; using the workdir's files",
			"module", module, "workdir", dir, "files", diff)
	}
	return nil
}

// moduleDiff lists the embedded module's files that dir lacks or holds
// with other contents.
func moduleDiff(dir, module string) []string {
	fsys, err := terraform.FS(module)
	if err != nil {
		return []string{err.Error()}
	}
	var diff []string
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want, _ := fs.ReadFile(fsys, p)
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil || string(got) != string(want) {
			diff = append(diff, p)
		}
		return nil
	})
	return diff
}

// awsLoader loads the SDK's default configuration once, in app.region.
// It is safe for concurrent use.
type awsLoader struct {
	region string
	mu     sync.Mutex
	cfg    *aws.Config
}

func (a *awsLoader) load(ctx context.Context) (aws.Config, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg != nil {
		return *a.cfg, nil
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(a.region))
	if err != nil {
		return aws.Config{}, err
	}
	a.cfg = &cfg
	return cfg, nil
}

// credentialProbeTimeout bounds the search for AWS credentials when --gpu
// is not given; off EC2, the instance metadata lookup fails within it.
const credentialProbeTimeout = 10 * time.Second

// gpuDetector returns the detector --gpu names. Without --gpu it asks EC2
// when the SDK's default chain finds credentials (environment, profile,
// instance role), and otherwise uses the offline catalog, saying so.
func gpuDetector(ctx context.Context, mode string, a *awsLoader, log *slog.Logger) (launcher.GPUDetector, error) {
	if mode == "catalog" {
		return gpu.Catalog{}, nil
	}
	cfg, err := a.load(ctx)
	if err == nil && cfg.Credentials == nil {
		err = errors.New("no credential provider")
	}
	if err == nil && mode == "" {
		pctx, cancel := context.WithTimeout(ctx, credentialProbeTimeout)
		_, err = cfg.Credentials.Retrieve(pctx)
		cancel()
	}
	if err != nil {
		if mode == "auto" {
			return nil, fmt.Errorf("--gpu auto: %w", err)
		}
		log.Warn("no AWS credentials; GPU support comes from the offline catalog of "+gpu.CatalogDate()+
			"; pass --gpu auto to require EC2", "err", err)
		return gpu.Catalog{}, nil
	}
	return gpu.NewDetector(ec2.NewFromConfig(cfg), &gpu.Options{Region: a.region}), nil
}
