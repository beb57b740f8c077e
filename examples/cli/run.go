package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/clientvars"
)

// exampleConfig is used whenever --config is not given, the way upstream
// falls back to the config bundled with the allocator.
//
//go:embed config.yaml
var exampleConfig []byte

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitInvalid = 2
)

const usageText = `usage: go run ./examples/cli <command> [flags]

Commands:
  render    render and verify the runtime tfvars (stdout or --out FILE)
  validate  check a config file and list every problem
  defaults  list where each module variable gets its value, and any drift of its default
  launch    add client VMs with OpenTofu in a working directory
  destroy   destroy the client VMs of a working directory
  status    show the client VMs and the last launch of a working directory
  audit     list or show launches recorded in an audit store
  schedule  add, list or cancel scheduled destroys and launches (an allocator runs them)
  help      show this text

Off EC2, render and launch need the allocator's security group: pass
--allocator-sg-id or set ALLOCATOR_SG_ID (on EC2 it is read from instance
metadata). The agent and register tokens come from LABLINK_AGENT_TOKEN and
LABLINK_REGISTER_TOKEN, else from the working directory (render --workdir).

Run "go run ./examples/cli <command> -h" for the flags of a command.
Exit status: 0 success, 1 failure, 2 invalid input or usage.
`

// cli carries the process boundary: streams and environment. Everything
// else is passed explicitly.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// run executes one command and returns the process exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitInvalid
	}
	name, rest := args[0], args[1:]
	var err error
	switch name {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	case "render":
		err = c.render(ctx, rest)
	case "validate":
		err = c.validate(rest)
	case "defaults":
		err = c.defaults(rest)
	case "launch":
		err = c.launch(ctx, rest)
	case "destroy":
		err = c.destroy(ctx, rest)
	case "status":
		err = c.status(ctx, rest)
	case "audit":
		err = c.audit(ctx, rest)
		name = "audit"
	case "schedule":
		err = c.schedule(ctx, rest)
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", name, usageText)
		return exitInvalid
	}
	return c.exit(name, err)
}

// exitError carries an exit status. A nil err means the command has
// already said everything on its output streams.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// invalid marks err as invalid input (exit 2).
func invalid(err error) error { return &exitError{code: exitInvalid, err: err} }

// invalidf is invalid with a formatted message.
func invalidf(format string, a ...any) error { return invalid(fmt.Errorf(format, a...)) }

// silent is an exit status whose explanation is already printed.
func silent(code int) error { return &exitError{code: code} }

// exit prints err, if any, prefixed with the command name, and returns the
// exit status it stands for: 0 for nil and for -h, the status an
// *exitError carries, else 1.
func (c *cli) exit(cmd string, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	code := exitFailure
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
		err = ee.err
	}
	fmt.Fprintf(c.stderr, "%s: %v\n", cmd, err)
	return code
}

// newFlags returns a flag set that reports to stderr and does not exit.
func (c *cli) newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./examples/cli %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, allowing flags after positional arguments, and
// returns the positional ones. A bad flag is invalid input (the flag
// package has printed the problem and the usage already); -h yields
// flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, silent(exitInvalid)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// noArgs parses args for a command that takes flags only.
func noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return invalidf("unexpected argument %q (run with -h for usage)", pos[0])
	}
	return nil
}

// isSet reports whether the flag called name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// loadConfig reads and validates the config at path, or the embedded
// example config when path is "". Deprecation warnings go to stderr; a
// config with problems is invalid input, every problem named.
func (c *cli) loadConfig(path string) (lablink.Config, error) {
	cfg, warns, err := c.readConfig(path)
	for _, w := range warns {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	if err != nil {
		return lablink.Config{}, invalid(err)
	}
	return cfg, nil
}

// readConfig is lablink.LoadConfig of path, or ParseConfig of the example.
func (c *cli) readConfig(path string) (lablink.Config, []lablink.Warning, error) {
	if path == "" {
		return lablink.ParseConfig(exampleConfig)
	}
	return lablink.LoadConfig(path)
}

// envFlags are the flags that stand in for the allocator's environment
// variables; a flag given on the command line wins over the variable.
type envFlags struct {
	fs                                     *flag.FlagSet
	allocatorIP, environment, fqdn, lg, sg string
}

func addEnvFlags(fs *flag.FlagSet) *envFlags {
	e := &envFlags{fs: fs}
	fs.StringVar(&e.allocatorIP, "allocator-ip", "", "allocator public IP (default $ALLOCATOR_PUBLIC_IP)")
	fs.StringVar(&e.environment, "environment", "", `environment name (default $ENVIRONMENT, else the config's environment, else "prod")`)
	fs.StringVar(&e.fqdn, "fqdn", "", "allocator URL or host name overriding DNS and IP (default $ALLOCATOR_FQDN)")
	fs.StringVar(&e.lg, "log-group", "", "CloudWatch log group for cloud-init output (default $CLOUD_INIT_LOG_GROUP)")
	fs.StringVar(&e.sg, "allocator-sg-id", "", "the allocator's security group, allowed to reach the VMs (default $ALLOCATOR_SG_ID, else instance metadata on EC2)")
	return e
}

// env returns the launcher environment: the variables read through getenv,
// overridden by the flags that were set. configPath is the --config given
// ("" for the embedded one), against whose directory a relative
// startup_script.path is resolved.
func (e *envFlags) env(getenv func(string) string, configPath string) clientvars.Env {
	env := clientvars.EnvFrom(getenv)
	if configPath != "" {
		env.ConfigDir = filepath.Dir(configPath)
	}
	if isSet(e.fs, "allocator-sg-id") {
		env.AllocatorSGID = e.sg
	}
	if isSet(e.fs, "allocator-ip") {
		env.AllocatorIP = e.allocatorIP
	}
	if isSet(e.fs, "environment") {
		env.Environment = e.environment
	}
	if isSet(e.fs, "fqdn") {
		env.FQDN = e.fqdn
	}
	if isSet(e.fs, "log-group") {
		env.LogGroup = e.lg
	}
	return env
}

// requireIP checks that an allocator IP was given one way or the other;
// clientvars.Resolve would reject the empty string too, but without naming
// the flag.
func requireIP(env clientvars.Env) error {
	if strings.TrimSpace(env.AllocatorIP) == "" {
		return invalidf("no allocator IP: pass --allocator-ip or set ALLOCATOR_PUBLIC_IP")
	}
	return nil
}
