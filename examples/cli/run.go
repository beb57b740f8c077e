package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// exampleConfig is used whenever --config is not given, the way upstream
// falls back to the config bundled with the allocator.
//
//go:embed config.yaml
var exampleConfig []byte

// progName is the name usage texts give the binary, as the README builds
// it (go build -o bin/lablink ./examples/cli).
const progName = "lablink"

// commands lists the commands for the usage text and help --json, in
// that order.
var commands = []struct{ name, summary string }{
	{"render", "render and verify the runtime tfvars (stdout or --out FILE)"},
	{"validate", "check a config file and list every problem"},
	{"defaults", "list where each module variable gets its value, and any drift of its default"},
	{"launch", "add client VMs with OpenTofu in a working directory"},
	{"status", "list the client VMs, orphans and last launch of a working directory"},
	{"destroy", "destroy the client VMs of a working directory (asks first on a terminal)"},
	{"restore-state", "restore the newest good copy of a refused local state, after showing what differs"},
	{"audit", "list or show launches recorded in an audit store"},
	{"schedule", "add, list or cancel scheduled destroys and launches (an allocator runs them)"},
	{"help", "show this text"},
}

// exitStatuses documents the exit statuses for the usage text and help
// --json.
var exitStatuses = []struct {
	Status  int    `json:"status"`
	Meaning string `json:"meaning"`
}{
	{exitOK, "success"},
	{exitFailure, "failure: drift, a failed or interrupted launch or destroy, a refused state, an unreachable API"},
	{exitInvalid, "invalid input: a bad flag or argument, an invalid config, a request beyond the limits, a module variable nothing supplies, a confirmation that cannot be asked"},
}

func usageText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s <command> [flags]\n\nCommands:\n", progName)
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(&b, `
Off EC2, render and launch need the allocator's security group: pass
--allocator-sg-id or set ALLOCATOR_SG_ID (on EC2 it is read from instance
metadata). The agent and register tokens come from LABLINK_AGENT_TOKEN and
LABLINK_REGISTER_TOKEN, else from the working directory (render --workdir).

Every command takes --json: stdout then holds exactly one JSON document,
with an "error" member when the exit status is not 0 (see JSON.md).

Run "%s <command> -h" for the flags of a command.
Exit status:
`, progName)
	for _, s := range exitStatuses {
		fmt.Fprintf(&b, "  %d  %s\n", s.Status, s.Meaning)
	}
	return b.String()
}

// cli carries the process boundary: streams, environment, clock and
// whether a person can be asked. Everything else is passed explicitly.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	now    func() time.Time
	// terminal reports that stdin is a terminal: destroy and
	// restore-state may ask for confirmation there.
	terminal bool
	// json is --json: stdout holds one JSON document.
	json bool
	// fromFlag maps the environment variables that a flag set on the
	// command line replaced to that flag, for messages to name the input
	// the user gave.
	fromFlag map[string]string
}

// run executes one command and returns the process exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now,
		terminal: isTerminal(stdin)}
	return c.run(ctx, args)
}

// run dispatches args to a command.
func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usageText())
		return exitInvalid
	}
	name, rest := args[0], args[1:]
	c.json = wantsJSON(args)
	var err error
	switch name {
	case "help", "-h", "-help", "--help":
		err = c.help(rest)
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
	case "restore-state":
		err = c.restoreState(ctx, rest)
	case "audit":
		err = c.audit(ctx, rest)
		if len(rest) > 0 && (rest[0] == "list" || rest[0] == "show") {
			name += " " + rest[0]
		}
	case "schedule":
		err = c.schedule(ctx, rest)
	default:
		err = badInput("command", "unknown command %q; run %s help for the list", name, progName)
		if !c.json {
			fmt.Fprintf(c.stderr, "unknown command %q\n\n%s", name, usageText())
			err = silent(exitInvalid)
		}
		name = progName
	}
	return c.exit(name, err)
}

// wantsJSON reports whether args ask for --json, looked at before the
// flags are parsed so that an error in parsing them is a JSON document
// too.
func wantsJSON(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		switch a {
		case "--json", "-json", "--json=true", "-json=true", "--json=1", "-json=1":
			return true
		}
		return false
	})
}

// exit reports err, if any, and returns the exit status it stands for:
// 0 for nil and for -h, the status an *exitError carries, else 1. In text
// mode each problem is a line on stderr prefixed with cmd; with --json
// the error is stdout's one document.
func (c *cli) exit(cmd string, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	code := codeOf(err)
	var ee *exitError
	if errors.As(err, &ee) && (ee.err == nil || ee.said && !c.json) {
		return code
	}
	if c.json {
		c.writeJSON(errorDoc{newErrorBody(cmd, err)})
		return code
	}
	for _, p := range problems(cmd, err) {
		fmt.Fprintf(c.stderr, "%s: %s\n", cmd, p.Message)
	}
	return code
}

// helpDoc is the JSON document of help --json.
type helpDoc struct {
	Usage    string        `json:"usage"`
	Commands []commandDoc  `json:"commands"`
	Exit     []exitDocItem `json:"exit_statuses"`
}

type commandDoc struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
}

type exitDocItem = struct {
	Status  int    `json:"status"`
	Meaning string `json:"meaning"`
}

func (c *cli) help(args []string) error {
	fs := c.newFlags("help", "")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if !c.json {
		fmt.Fprint(c.stdout, usageText())
		return nil
	}
	doc := helpDoc{Usage: usageText(), Exit: exitStatuses}
	for _, cmd := range commands {
		doc.Commands = append(doc.Commands, commandDoc{cmd.name, cmd.summary})
	}
	c.writeJSON(doc)
	return nil
}
