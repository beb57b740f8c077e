package main

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/allocurl"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/tfvars"
)

// newFlags returns a flag set that reports to stderr, does not exit, and
// has --json. doc, when not "", is printed after the flags by -h: the
// shape of the command's JSON document.
func (c *cli) newFlags(name, synopsis string, doc ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s %s %s\n", progName, name, synopsis)
		fs.PrintDefaults()
		for _, d := range doc {
			fmt.Fprintf(fs.Output(), "\n%s", d)
		}
	}
	asked := c.json // from wantsJSON, before parsing
	fs.BoolVar(&c.json, "json", false, "print one JSON document on stdout (see JSON.md): the result, or {\"error\": ...} when the exit status is not 0")
	c.json = asked
	return fs
}

// parse parses args, allowing flags after positional arguments, and
// returns the positional ones. A bad flag is invalid input, which the
// flag package has printed with the usage already; -h yields
// flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{code: exitInvalid, err: flagParseError(err), said: true}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// flagName finds the flag in the flag package's errors ("flag provided
// but not defined: -nope", "invalid value "x" for flag -count: ...").
var flagName = regexp.MustCompile(`(?:flag -|: -)([A-Za-z0-9-]+)`)

// flagParseError names the flag of an error of the flag package.
func flagParseError(err error) error {
	field := ""
	if m := flagName.FindStringSubmatch(err.Error()); m != nil {
		field = "--" + m[1]
	}
	return &inputError{field: field, msg: err.Error() + " (run with -h for the flags)"}
}

// noArgs parses args for a command that takes flags only.
func noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return badInput(pos[0], "unexpected argument %q: %s %s takes flags only (run with -h for them)", pos[0], progName, fs.Name())
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
// config with problems is invalid input, every problem named by file,
// line and key.
func (c *cli) loadConfig(path string) (lablink.Config, error) {
	cfg, warns, err := c.readConfig(path)
	for _, w := range warns {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	if err != nil {
		return lablink.Config{}, invalid(configError(path, err))
	}
	return cfg, nil
}

// configError names --config for a file that cannot be read at all; the
// problems of a file that loads name their own file and line.
func configError(path string, err error) error {
	var fe *lablink.FieldError
	var se *lablink.SyntaxError
	if path == "" || errors.As(err, &fe) || errors.As(err, &se) {
		return err
	}
	return &inputError{field: "--config", msg: fmt.Sprintf("--config %s: %v", path, err)}
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

// envInputs pairs each environment variable with the flag that stands for
// it.
var envInputs = []struct{ variable, flag string }{
	{"ALLOCATOR_PUBLIC_IP", "--allocator-ip"},
	{"ENVIRONMENT", "--environment"},
	{"ALLOCATOR_FQDN", "--fqdn"},
	{"CLOUD_INIT_LOG_GROUP", "--log-group"},
	{"ALLOCATOR_SG_ID", "--allocator-sg-id"},
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
// overridden by the flags that were set, which it notes in c.fromFlag.
// configPath is the --config given ("" for the embedded one), against
// whose directory a relative startup_script.path is resolved.
func (c *cli) env(e *envFlags, configPath string) clientvars.Env {
	env := clientvars.EnvFrom(c.getenv)
	if configPath != "" {
		env.ConfigDir = filepath.Dir(configPath)
	}
	c.fromFlag = map[string]string{}
	for _, in := range envInputs {
		if !isSet(e.fs, strings.TrimPrefix(in.flag, "--")) {
			continue
		}
		c.fromFlag[in.variable] = in.flag
		switch in.variable {
		case "ALLOCATOR_PUBLIC_IP":
			env.AllocatorIP = e.allocatorIP
		case "ENVIRONMENT":
			env.Environment = e.environment
		case "ALLOCATOR_FQDN":
			env.FQDN = e.fqdn
		case "CLOUD_INIT_LOG_GROUP":
			env.LogGroup = e.lg
		case "ALLOCATOR_SG_ID":
			env.AllocatorSGID = e.sg
		}
	}
	return env
}

// requireIP checks that an allocator IP was given one way or the other,
// naming both.
func requireIP(env clientvars.Env) error {
	if strings.TrimSpace(env.AllocatorIP) == "" {
		return badInput("--allocator-ip", "no allocator IP: pass --allocator-ip or set ALLOCATOR_PUBLIC_IP to the allocator's public IP")
	}
	return nil
}

// blame rewrites the problems of err, an error of the inputs of a launch
// or render, to name the input as the user gave it: a flag given on the
// command line by its flag (--allocator-ip: ...), a value from the
// environment by its variable (the library names variables only), and a
// missing security group by both. Other problems stay as they are.
func (c *cli) blame(err error, env clientvars.Env) error {
	ls := leaves(err)
	out := make([]error, 0, len(ls))
	for _, e := range ls {
		out = append(out, c.blameOne(e, env))
	}
	if len(out) == 1 {
		return out[0]
	}
	return errors.Join(out...)
}

func (c *cli) blameOne(e error, env clientvars.Env) error {
	var ae *allocurl.InputError
	var ve *tfvars.VariableError
	switch {
	case errors.As(e, &ae):
		name := c.inputName(ae.Input)
		return &inputError{field: name, msg: name + ": " + ae.Err.Error()}
	case errors.As(e, &ve) && ve.Name == "allocator_sg_id" && env.AllocatorSGID == "":
		return &inputError{field: "--allocator-sg-id", msg: "no allocator security group: the module requires allocator_sg_id; " +
			"pass --allocator-sg-id or set ALLOCATOR_SG_ID to the allocator's security group (on EC2 it is read from instance metadata)"}
	}
	msg := e.Error()
	for _, in := range envInputs {
		rest, ok := strings.CutPrefix(msg, in.variable)
		if ok && (strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, " ")) {
			name := c.inputName(in.variable)
			return &inputError{field: name, msg: name + rest}
		}
	}
	return e
}

// inputName is the flag that set variable on the command line, else the
// variable.
func (c *cli) inputName(variable string) string {
	if f, ok := c.fromFlag[variable]; ok {
		return f
	}
	return variable
}
