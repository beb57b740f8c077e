package launcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/lablink-go/lablink/plancheck"
	"github.com/lablink-go/lablink/tfstate"
)

// workingDir runs OpenTofu in the module directory dir: init when the module
// changed, plan to a saved plan, apply it, read the outputs. Its methods
// must not run concurrently (the Launcher's queue runs them one at a
// time); warmVersion may.
type workingDir struct {
	dir         string
	tf          *tfexec.Terraform
	lockTimeout time.Duration
	// progress, when set, receives apply progress.
	progress func(Progress)
	// fixedParallelism, when positive, is the -parallelism of every apply;
	// otherwise it follows the plan, up to maxParallelism.
	fixedParallelism, maxParallelism int
	// backend, when set, is the state backend init configures.
	backend *tfstate.Backend

	// initHash is the module hash init last ran for.
	initHash string
	// versionOnce starts the background version check (warmVersion).
	versionOnce sync.Once
}

// init runs `init` when the module's files changed since the last
// successful init, or on first use in this process when the directory has
// never been initialized by a launcher.
func (w *workingDir) init(ctx context.Context) error {
	h, err := moduleHash(w.dir, w.backendConfig())
	if err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	if h == w.initHash {
		return nil
	}
	marker := filepath.Join(w.dir, ".lablink", "init.sha256")
	if b, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(b)) == h {
		w.initHash = h
		return nil
	}
	opts := []tfexec.InitOption{tfexec.Upgrade(false)}
	if w.backend != nil {
		// The backend is the launcher's to choose: a new one starts from
		// its own state rather than migrating the old one.
		opts = append(opts, tfexec.Reconfigure(true))
		for _, kv := range w.backendConfig() {
			opts = append(opts, tfexec.BackendConfig(kv))
		}
	}
	if err := w.tf.Init(ctx, opts...); err != nil {
		return fmt.Errorf("launch: init: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(marker), 0o700); err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	if err := os.WriteFile(marker, []byte(h+"\n"), 0o600); err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	w.initHash = h
	return nil
}

// backendConfig is the backend's init settings, nil without one.
func (w *workingDir) backendConfig() []string {
	if w.backend == nil {
		return nil
	}
	return w.backend.BackendConfig()
}

// writeBackendFile writes b's backend file into dir, unless it is there.
func writeBackendFile(dir string, b tfstate.Backend) error {
	path := filepath.Join(dir, tfstate.FileName)
	if cur, err := os.ReadFile(path); err == nil && string(cur) == string(b.File()) {
		return nil
	}
	return os.WriteFile(path, b.File(), 0o644)
}

// moduleHash digests the module's *.tf files, the dependency lock file and
// the backend settings.
func moduleHash(dir string, backend []string) (string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return "", err
	}
	names = append(names, filepath.Join(dir, ".terraform.lock.hcl"))
	slices.Sort(names)
	h := sha256.New()
	for _, kv := range backend {
		fmt.Fprintf(h, "backend %s\n", kv)
	}
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

// version asks for OpenTofu's version (terraform-exec caches it).
func (w *workingDir) version(ctx context.Context) error {
	_, _, err := w.tf.Version(ctx, false)
	return err
}

// warmVersion asks for OpenTofu's version in the background, once per
// working directory, while the first launch prepares its tfvars and plans.
// terraform-exec checks the version before `init` and `show -json` and
// caches it; without this, the first launch of a process (every CLI
// launch) would wait for one more OpenTofu process in series. Version
// holds terraform-exec's own lock, so `init` or `show` waits for this call
// rather than starting another; if it fails, they ask again.
func (w *workingDir) warmVersion(ctx context.Context) {
	w.versionOnce.Do(func() {
		go w.tf.Version(ctx, false)
	})
}

// savedPlan is a plan saved by `plan -out` and read back by `show -json`.
// Whoever holds one calls Remove when done with it.
type savedPlan struct {
	path string
	plan *tfjson.Plan
}

// Remove deletes the plan file. It is safe to call more than once.
func (p *savedPlan) Remove() {
	os.Remove(p.path)
}

// plan runs `plan -out` with varFile (with -destroy when destroy is set)
// and `show -json` of the saved plan, which is named after id. On error no
// plan file is left behind.
func (w *workingDir) plan(ctx context.Context, id, varFile string, destroy bool) (*savedPlan, error) {
	dir := filepath.Join(w.dir, ".lablink", "plans")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &savedPlan{path: filepath.Join(dir, id+".tfplan")}
	opts := []tfexec.PlanOption{
		tfexec.Out(p.path),
		tfexec.VarFile(varFile),
		tfexec.Lock(true),
		tfexec.LockTimeout(w.lockTimeout.String()),
		tfexec.Refresh(true),
	}
	if destroy {
		opts = append(opts, tfexec.Destroy(true))
	}
	if _, err := w.tf.Plan(ctx, opts...); err != nil {
		p.Remove()
		return nil, fmt.Errorf("plan: %w", err)
	}
	plan, err := w.tf.ShowPlanFile(ctx, p.path)
	if err != nil {
		p.Remove()
		return nil, fmt.Errorf("show plan: %w", err)
	}
	p.plan = plan
	return p, nil
}

// apply applies a saved plan, reporting progress from its output under the
// launch ID id against planned resource changes.
func (w *workingDir) apply(ctx context.Context, p *savedPlan, id string, planned int) error {
	pw := newProgressWriter(id, planned, w.progress)
	w.tf.SetStdout(pw)
	defer w.tf.SetStdout(nil)
	pw.start()
	return w.tf.Apply(ctx, tfexec.DirOrPlan(p.path), tfexec.Lock(true), tfexec.LockTimeout(w.lockTimeout.String()),
		tfexec.Parallelism(w.parallelism(planned)))
}

// defaultParallelism is OpenTofu's own default, the floor of the chosen
// parallelism.
const defaultParallelism = 10

// parallelism is how many resource operations an apply of planned changes
// runs at once: Options.Parallelism when set; else one per planned
// change, so that a class of VMs is created in the time of one rather
// than in waves of OpenTofu's default 10, at least that default and at
// most Options.MaxParallelism.
func (w *workingDir) parallelism(planned int) int {
	if w.fixedParallelism > 0 {
		return w.fixedParallelism
	}
	return min(max(planned, defaultParallelism), w.maxParallelism)
}

// outputs reads the module outputs from the local state file; with another
// backend it asks OpenTofu. Outputs are informative: failures yield nil.
func (w *workingDir) outputs(ctx context.Context) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	if hasBackend(w.dir) {
		meta, err := w.tf.Output(ctx)
		if err != nil {
			return nil
		}
		for k, v := range meta {
			out[k] = v.Value
		}
		return out
	}
	raw, err := readLocalState(w.dir)
	if err != nil {
		return nil
	}
	for k, v := range raw.Outputs {
		out[k] = v.Value
	}
	return out
}

// summary counts the plan's resource changes: a forget counts as a
// destroy (the resource leaves the state) and forget+create as a replace.
func (p *savedPlan) summary() PlanSummary {
	var s PlanSummary
	for _, rc := range p.plan.ResourceChanges {
		if rc.Change == nil || rc.Mode != tfjson.ManagedResourceMode {
			continue
		}
		a := rc.Change.Actions
		forget := slices.Contains(a, tfjson.Action("forget"))
		switch {
		case a.Replace() || forget && slices.Contains(a, tfjson.ActionCreate):
			s.Replace++
		case a.Create():
			s.Add++
		case a.Update():
			s.Change++
		case a.Delete() || forget:
			s.Destroy++
		}
	}
	return s
}

// guard refuses a plan that would disturb a running client VM or open its
// ports to the internet (package plancheck).
func (p *savedPlan) guard(vmResource string, harmless []string) error {
	err := plancheck.CheckPlan(p.plan, &plancheck.Options{
		ClientVMs:       []string{"aws_instance." + vmResource, "terraform_data." + vmResource},
		HarmlessUpdates: harmless,
	})
	var refused *plancheck.RefusedError
	if !errors.As(err, &refused) {
		return err
	}
	var addrs []string
	for _, v := range refused.Violations {
		if !slices.Contains(addrs, v.Address) {
			addrs = append(addrs, v.Address)
		}
	}
	return &PlanRefusedError{Addresses: addrs, Err: refused}
}
