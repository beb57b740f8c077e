package launcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lablink-go/lablink/launcher/internal/tofu"
	"github.com/lablink-go/lablink/plancheck"
	"github.com/lablink-go/lablink/tfstate"
)

// workingDir runs OpenTofu in the module directory dir: init when the module
// changed, plan to a saved plan, apply it. Its methods must not run
// concurrently (the Launcher's queue runs them one at a time).
type workingDir struct {
	dir         string
	run         *tofu.Runner
	lockTimeout time.Duration
	// fixedParallelism, when positive, is the -parallelism of every apply;
	// otherwise it follows the plan, up to maxParallelism.
	fixedParallelism, maxParallelism int
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
		return err
	}
	if h == w.initHash {
		return nil
	}
	marker := filepath.Join(w.dir, ".lablink", "init.sha256")
	if b, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(b)) == h {
		w.initHash = h
		return nil
	}
	// init runs itself rather than through terraform-exec, whose Init
	// first asks OpenTofu for its version: a process more, about a third
	// of a cold start's OpenTofu time before its first plan.
	if err := w.run.Run(ctx, "", tofu.Init(tofu.InitArgs{BackendConfig: w.backendConfig()}), nil); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(marker), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(marker, []byte(h+"\n"), 0o600); err != nil {
		return err
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
	return os.WriteFile(path, b.File(), 0o600)
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
		_, _ = fmt.Fprintf(h, "backend %s\n", kv)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, _ = fmt.Fprintf(h, "%s %d\n", filepath.Base(n), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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

// localState reports whether the state is the working directory's own
// terraform.tfstate (no backend configured).
func (w *workingDir) localState() bool {
	_, err := os.Stat(filepath.Join(w.dir, ".terraform", "terraform.tfstate"))
	return err != nil
}
