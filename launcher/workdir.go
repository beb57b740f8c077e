package launcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/lablink-go/lablink/plancheck"
	"github.com/lablink-go/lablink/tfstate"
)

// workingDir runs OpenTofu in the module directory dir: init when the module
// changed, plan to a saved plan, apply it, read the outputs. Its methods
// must not run concurrently (the Launcher's queue runs them one at a
// time).
type workingDir struct {
	dir         string
	tf          *tfexec.Terraform
	lockTimeout time.Duration
	// progress, when set, receives apply progress.
	progress func(Progress)
	// fixedParallelism, when positive, is the -parallelism of every apply;
	// otherwise it follows the plan, up to maxParallelism.
	fixedParallelism, maxParallelism int
	// env is the environment of the OpenTofu processes the launcher runs
	// itself (show), as terraform-exec runs the others.
	env []string
	// guard are the plan guard's options, which also decide what of a
	// plan is read.
	guard *plancheck.Options
	// backend, when set, is the state backend init configures.
	backend *tfstate.Backend

	// initHash is the module hash init last ran for.
	initHash string
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
	if err := w.runInit(ctx); err != nil {
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

// runInit runs `init` itself, with the arguments terraform-exec's Init
// gives it for OpenTofu, because Init first asks OpenTofu for its version
// (to tell a Terraform older than 0.15 apart): a process more, about a
// third of a cold start's OpenTofu time before its first plan.
func (w *workingDir) runInit(ctx context.Context) error {
	args := []string{"init", "-no-color", "-input=false", "-backend=true", "-get=true", "-upgrade=false"}
	if w.backend != nil {
		// The backend is the launcher's to choose: a new one starts from
		// its own state rather than migrating the old one.
		args = append(args, "-reconfigure")
		for _, kv := range w.backendConfig() {
			args = append(args, "-backend-config="+kv)
		}
	}
	exit, err := w.run(w.command(ctx, args...), func(r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	return settle(ctx, exit, err)
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

// apply applies a saved plan, reporting progress from its output under the
// launch ID id against planned resource changes.
func (w *workingDir) apply(ctx context.Context, p *savedPlan, id string, planned int) error {
	pw := newProgressWriter(id, planned, w.progress)
	w.tf.SetStdout(pw)
	defer w.tf.SetStdout(nil)
	pw.start()
	err := w.tf.Apply(ctx, tfexec.DirOrPlan(p.path), tfexec.Lock(true), tfexec.LockTimeout(w.lockTimeout.String()),
		tfexec.Parallelism(w.parallelism(planned)))
	if err != nil && strings.Contains(err.Error(), staleMessage) {
		return fmt.Errorf("%w: %w", errStalePlan, err)
	}
	return err
}

// errStalePlan: OpenTofu refused to apply a saved plan because the state
// changed since the plan was made (another process applied in between).
// It checks that before it changes anything.
var errStalePlan = errors.New("the saved plan is stale")

// staleMessage is the summary of OpenTofu's (and Terraform's) diagnostic
// for a stale saved plan (internal/backend/local/backend_local.go).
const staleMessage = "Saved plan is stale"

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
