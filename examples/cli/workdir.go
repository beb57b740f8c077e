package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/launcher"
)

// workFlags are the flags every working-directory command shares.
type workFlags struct {
	workdir, config, terraform, audit, actor string
	// state is --state and its companions, and --max-count.
	state setup.State
}

func addWorkFlags(fs *flag.FlagSet, getenv func(string) string) *workFlags {
	w := &workFlags{}
	fs.StringVar(&w.workdir, "workdir", "", "OpenTofu working directory (required)")
	fs.StringVar(&w.config, "config", "", "allocator config.yaml (default: the embedded example config)")
	fs.StringVar(&w.terraform, "terraform", "", "OpenTofu or Terraform binary (default $TOFU_PATH, else tofu or terraform on PATH)")
	fs.StringVar(&w.audit, "audit", "", "audit store, s3://BUCKET[/PREFIX] or a directory (default <workdir>/.lablink/audit)")
	actor := getenv("USER")
	if actor == "" {
		actor = "cli"
	}
	fs.StringVar(&w.actor, "actor", actor, "who asks, for the audit trail")
	w.state.Register(fs)
	return w
}

// check validates the flags every working-directory command shares; with
// exists, the working directory must exist (launch creates it).
func (w *workFlags) check(exists bool) error {
	if w.workdir == "" {
		return badInput("--workdir", "--workdir is required: the OpenTofu working directory of the client VMs")
	}
	if exists {
		if err := checkWorkdir(w.workdir); err != nil {
			return err
		}
	}
	if err := w.state.Check(); err != nil {
		return invalid(err)
	}
	return nil
}

// checkWorkdir requires dir to be an existing directory: a mistyped path
// is an error, never an empty fleet.
func checkWorkdir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return badInput("--workdir", "--workdir %s: no such directory; give the working directory of an earlier launch", dir)
	case err != nil:
		return badInput("--workdir", "--workdir %s: %v", dir, err)
	case !fi.IsDir():
		return badInput("--workdir", "--workdir %s is not a directory", dir)
	}
	return nil
}

// findBinary checks the OpenTofu binary before anything is written.
func (w *workFlags) findBinary() error {
	_, err := launcher.FindBinary(w.terraform)
	switch {
	case err == nil:
		return nil
	case w.terraform != "":
		return badInput("--terraform", "--terraform: %v", err)
	}
	return err
}

// openLauncher opens the audit store of --audit (or leaves the
// launcher's default) and opens a Launcher for the workdir: for Status
// and Destroy only when noLaunch is set. What a killed earlier run left is
// taken over and said on stderr, and returned as notes for a JSON
// document; orphans too unless the command lists them itself.
func (c *cli) openLauncher(ctx context.Context, w *workFlags, a *setup.AWS, cfg lablink.Config, env clientvars.Env,
	det launcher.GPUDetector, progress func(launcher.Progress), noLaunch bool) (*launcher.Launcher, []string, error) {
	opts := &launcher.Options{Binary: w.terraform, Env: &env, Progress: progress, NoLaunch: noLaunch}
	if w.audit != "" {
		store, err := openStore(ctx, w.audit, a)
		if err != nil {
			return nil, nil, err
		}
		opts.Trail = audit.NewTrail(store, nil)
		opts.Operations = audit.NewOpStore(store, nil)
	}
	if err := w.state.Apply(ctx, cfg, cfg.EnvironmentName(env.Environment), a.Config, opts); err != nil {
		return nil, nil, invalid(err)
	}
	inv, err := setup.Inventory(ctx, "", w.workdir, cfg, env, a)
	if err != nil {
		fmt.Fprintf(c.stderr, "warning: no inventory of the cloud's VMs, so VMs an interrupted apply created outside the state are not reported: %v\n", err)
	}
	opts.Inventory = inv
	l, err := launcher.Open(ctx, w.workdir, cfg, det, opts)
	if errors.Is(err, launcher.ErrInvalidInput) {
		return nil, nil, invalid(c.blame(err, env))
	}
	if err != nil {
		return nil, nil, err
	}
	notes := recoveryNotes(l.Recovery(), !noLaunch)
	for _, n := range notes {
		fmt.Fprintln(c.stderr, n)
	}
	return l, notes, nil
}

// recoveryNotes says what Open took over from a dead earlier run. The
// state's problem is left out: the command that meets it reports it.
func recoveryNotes(rec launcher.Recovery, orphans bool) []string {
	var out []string
	for _, p := range rec.Waited {
		out = append(out, fmt.Sprintf("waited for OpenTofu %s (pid %d) left running by an earlier run", p.Command, p.PID))
	}
	for _, u := range rec.Unfinished {
		out = append(out, fmt.Sprintf("an earlier run died during %s %s; %d of the VMs it was to create are not in the state",
			u.Action, u.LaunchID, len(u.Missing)))
	}
	for _, op := range rec.Interrupted {
		out = append(out, fmt.Sprintf("operation %d of a stopped earlier run marked interrupted", op.ID))
	}
	if lk := rec.Cleared; lk != nil {
		out = append(out, fmt.Sprintf("cleared the state lock %s of %s: no OpenTofu holds it", lk.ID, lk.Who))
	}
	if lk := rec.Held; lk != nil {
		out = append(out, fmt.Sprintf("the state is locked by %s (lock %s), not proven gone; waiting for it", lk.Who, lk.ID))
	}
	if orphans {
		for _, o := range rec.Orphans {
			out = append(out, fmt.Sprintf("VM %s (%s) exists but is not in the state (lablink status lists it with its commands)", o.Name, o.ID))
		}
	}
	return out
}

// openStore opens an audit store; S3 stores use the SDK's standard chain.
func openStore(ctx context.Context, spec string, a *setup.AWS) (audit.Store, error) {
	store, err := audit.ParseStore(ctx, spec, a.Config)
	if errors.Is(err, audit.ErrInvalid) {
		return nil, invalid(err)
	}
	return store, err
}

// launchModule returns the module --module names and the files a launch
// in workdir applies: the workdir's own when it holds a module, else that
// module's, which installModule puts there.
func launchModule(workdir, spec string) (*terraform.Module, fs.FS, error) {
	mod, err := terraform.Open(spec)
	if err != nil {
		return nil, nil, badInput("--module", "--module: %v", err)
	}
	has, err := terraform.HasModule(workdir)
	switch {
	case err != nil:
		return nil, nil, badInput("--workdir", "--workdir %s: %v", workdir, err)
	case has:
		return mod, os.DirFS(workdir), nil
	case slices.Contains(terraform.Names(), spec):
		files, err := terraform.FS(spec)
		return mod, files, err
	}
	return mod, os.DirFS(spec), nil
}

// installModule puts mod into workdir unless it holds a module, and says
// what it did, or how the module it holds differs from mod.
func (c *cli) installModule(workdir string, mod *terraform.Module) error {
	inst, err := mod.Install(workdir)
	switch {
	case errors.Is(err, terraform.ErrNotModuleDir):
		return badInput("--workdir", "--workdir: %v; give an empty or new directory, or one of an earlier launch", err)
	case err != nil:
		return err
	case inst.Wrote != nil:
		fmt.Fprintf(c.stderr, "launch: wrote %s into %s\n", mod, workdir)
	case len(inst.Diff) > 0:
		fmt.Fprintf(c.stderr, "launch: the module in %s differs from %s in %s; using the workdir's files\n",
			workdir, mod, strings.Join(inst.Diff, ", "))
	}
	return nil
}

// workdirCommand parses the flags of a command on an existing working
// directory (destroy, status), checks that it exists, loads the config,
// and reports whether the directory holds a module. more adds the
// command's own flags.
func (c *cli) workdirCommand(name, synopsis, doc string, args []string, more func(*flag.FlagSet)) (w *workFlags, envs *envFlags, cfg lablink.Config, has bool, err error) {
	fset := c.newFlags(name, synopsis, doc)
	w = addWorkFlags(fset, c.getenv)
	envs = addEnvFlags(fset)
	if more != nil {
		more(fset)
	}
	if err := noArgs(fset, args); err != nil {
		return nil, nil, cfg, false, err
	}
	if err := w.check(true); err != nil {
		return nil, nil, cfg, false, err
	}
	if cfg, err = c.loadConfig(w.config); err != nil {
		return nil, nil, cfg, false, err
	}
	has, err = terraform.HasModule(w.workdir)
	return w, envs, cfg, has, err
}
