package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/launcher"
)

// destroyDoc is the JSON document of destroy.
type destroyDoc struct {
	LaunchID    string `json:"launch_id"`
	Op          int64  `json:"op"`
	Workdir     string `json:"workdir"`
	Environment string `json:"environment"`
	// Destroyed counts the client VMs removed; Existing those before.
	Destroyed       int                `json:"destroyed"`
	Existing        int                `json:"existing"`
	Plan            *audit.PlanSummary `json:"plan,omitempty"`
	Audit           string             `json:"audit,omitempty"`
	DurationSeconds float64            `json:"duration_seconds"`
	Recovery        []string           `json:"recovery,omitempty"`
	failed
}

const destroyJSON = `Without --yes, destroy asks on the terminal: type the environment's name or yes.
Off a terminal it refuses without --yes (exit 2).

JSON (--json): {"launch_id", "op", "workdir", "environment", "destroyed", "existing",
"plan", "audit", "duration_seconds", "recovery", "error"}; see JSON.md.
`

func (c *cli) destroy(ctx context.Context, args []string) error {
	var yes bool
	w, envs, cfg, has, err := c.workdirCommand("destroy", "--workdir DIR [--yes] [flags]", destroyJSON, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&yes, "yes", false, "destroy without asking for confirmation")
	})
	if err != nil {
		return err
	}
	if !yes && !c.terminal {
		return badInput("--yes", "no terminal to confirm on (stdin is not one): pass --yes to destroy without asking")
	}
	if !has {
		return fmt.Errorf("%w in %s: it holds no module", launcher.ErrNothingLaunched, w.workdir)
	}
	pp := newProgressPrinter(c.stderr)
	env := c.env(envs, w.config)
	// Destroy asks no GPU question; the catalog satisfies Open.
	l, notes, err := c.openLauncher(ctx, w, &setup.AWS{Region: cfg.App.Region}, cfg, env, gpu.Catalog{}, pp.update, true)
	if err != nil {
		return err
	}
	defer l.Close()
	doc := destroyDoc{Workdir: w.workdir, Environment: l.Environment(), Recovery: notes}
	if !yes {
		if err := c.confirmDestroy(ctx, l, w.workdir); err != nil {
			return err
		}
	}
	stop := c.sayInterrupt(ctx, "destroy")
	res, err := l.Destroy(ctx, launcher.Request{Destroy: true, Actor: w.actor})
	stop()
	pp.finish()
	doc.LaunchID, doc.Op, doc.Destroyed, doc.Existing, doc.Audit = res.LaunchID, res.Op, res.Destroyed, res.Existing, res.Audit
	doc.DurationSeconds = res.Duration.Seconds()
	if res.LaunchID != "" {
		doc.Plan = &res.Plan
	}
	if err = destroyError(ctx, err, w.workdir); err != nil {
		if res.LaunchID == "" {
			return err
		}
		if !c.json {
			fmt.Fprintf(c.stderr, "destroy: %s did not succeed; audit record: %s\n", res.LaunchID, res.Audit)
		}
		return c.fail("destroy", &doc, &doc.failed, err)
	}
	return c.emit(doc, func(out io.Writer) error {
		fmt.Fprintf(out, "destroy:    %s succeeded in %s\n", res.LaunchID, res.Duration.Round(time.Millisecond))
		fmt.Fprintf(out, "client VMs: %d destroyed\n", res.Destroyed)
		fmt.Fprintf(out, "audit:      %s\n", res.Audit)
		return nil
	})
}

// destroyError says what to do after a failed destroy.
func destroyError(ctx context.Context, err error, workdir string) error {
	switch {
	case errors.Is(err, launcher.ErrNothingLaunched):
		return fmt.Errorf("%w in %s: no runtime tfvars", err, workdir)
	case err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled):
		ie := interrupted("destroy", err)
		ie.hint = fmt.Sprintf("%s status --workdir %s lists the VMs left", progName, workdir)
		return ie
	}
	return restoreHint(err, workdir)
}

// confirmDestroy asks on the terminal, naming what will go, and reads the
// answer: the environment's name or yes.
func (c *cli) confirmDestroy(ctx context.Context, l *launcher.Launcher, workdir string) error {
	vms := "all client VMs"
	if st, err := l.Status(ctx); err == nil && st.State == nil {
		vms = fmt.Sprintf("all %d client VMs", len(st.VMs))
	}
	env := l.Environment()
	answer, err := c.ask(ctx, fmt.Sprintf("destroy: this destroys %s of environment %q in %s, and every other resource of its module.\n"+
		"Type %s or yes to destroy them: ", vms, env, workdir, env))
	if err != nil {
		return fmt.Errorf("not confirmed: %w; nothing was destroyed", err)
	}
	if answer != env && answer != "yes" {
		return fmt.Errorf("not confirmed (the answer was %q, not %s or yes); nothing was destroyed", answer, env)
	}
	return nil
}

// ask prints prompt on stderr and reads one line of stdin, trimmed; end
// of input is an empty answer. A signal while it waits (Ctrl-C) ends the
// wait with ctx's error.
func (c *cli) ask(ctx context.Context, prompt string) (string, error) {
	fmt.Fprint(c.stderr, prompt)
	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if errors.Is(err, io.EOF) {
			err = nil
		}
		got <- answer{strings.TrimSpace(line), err}
	}()
	select {
	case a := <-got:
		if a.err != nil {
			return "", fmt.Errorf("read the confirmation: %w", a.err)
		}
		return a.line, nil
	case <-ctx.Done():
		fmt.Fprintln(c.stderr)
		return "", ctx.Err()
	}
}
