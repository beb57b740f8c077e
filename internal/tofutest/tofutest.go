// Package tofutest finds or builds the OpenTofu binary that tests drive
// through terraform-exec, and gives them an environment in which it runs
// offline and quietly.
//
// Resolution order for [Path]: $TOFU_PATH, then "tofu" on PATH, then
// "terraform" on PATH, then the pinned OpenTofu ([Version]) built from
// source into the build cache (see internal/buildcache). [Pinned] skips the
// first three steps; CI uses it so that tests always run against the real
// pinned OpenTofu and not whatever happens to be installed.
package tofutest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/lablink-go/lablink/internal/buildcache"
)

// Module and Version pin the OpenTofu that [Pinned] builds.
const (
	Module  = "github.com/opentofu/opentofu"
	Version = "v1.12.6"
)

// cacheName is the file name of the pinned binary inside the build cache.
const cacheName = "tofu-" + Version

// Path returns an OpenTofu (or Terraform) executable: $TOFU_PATH when set,
// else "tofu" on PATH, else "terraform" on PATH, else the pinned OpenTofu,
// built once into the build cache when missing (a few minutes). A
// $TOFU_PATH that does not name an executable file is an error rather than
// a silent fallback.
func Path(ctx context.Context) (string, error) {
	if p := os.Getenv("TOFU_PATH"); p != "" {
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("tofutest: TOFU_PATH: %w", err)
		}
		return p, nil
	}
	for _, name := range []string{"tofu", "terraform"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return Pinned(ctx)
}

// Pinned returns the pinned OpenTofu [Version], ignoring $TOFU_PATH and
// PATH, building it into the build cache when missing. Concurrent callers,
// in this process or others, share one build.
func Pinned(ctx context.Context) (string, error) {
	p, err := buildcache.Ensure(ctx, cacheName, build)
	if err != nil {
		return "", fmt.Errorf("tofutest: %w", err)
	}
	return p, nil
}

// Binary returns [Path] for a test, failing the test when no binary can be
// found or built. It never skips: a CI run without OpenTofu must fail
// loudly instead of passing with the OpenTofu tests silently left out.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := Path(t.Context())
	if err != nil {
		t.Fatalf("no OpenTofu binary: %v", err)
	}
	return p
}

// Env returns the whole environment for an OpenTofu process started with
// os/exec in a test: the current environment without any TF_* variable
// (a developer's TF_VAR_x, TF_DATA_DIR or TF_PLUGIN_CACHE_DIR must not
// change what a test sees), plus TF_IN_AUTOMATION=1 (no "next steps"
// hints), CHECKPOINT_DISABLE=1 (no update checks) and TF_CLI_CONFIG_FILE
// naming an empty file in t.TempDir (no ~/.terraformrc, and no warning
// about its absence).
func Env(t testing.TB) []string {
	t.Helper()
	m := envMap(t)
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// ExecEnv is [Env] as a map for [tfexec.Terraform.SetEnv], which replaces
// the process environment entirely. It leaves out TF_IN_AUTOMATION because
// terraform-exec sets that itself and refuses it in SetEnv.
func ExecEnv(t testing.TB) map[string]string {
	t.Helper()
	return tfexec.CleanEnv(envMap(t))
}

// New returns a terraform-exec handle on dir for [Binary] with [ExecEnv].
// OpenTofu's stdout and stderr are not forwarded; the errors terraform-exec
// returns carry stderr.
func New(t testing.TB, dir string) *tfexec.Terraform {
	t.Helper()
	tf, err := tfexec.NewTerraform(dir, Binary(t))
	if err != nil {
		t.Fatalf("tfexec: %v", err)
	}
	if err := tf.SetEnv(ExecEnv(t)); err != nil {
		t.Fatalf("tfexec: %v", err)
	}
	return tf
}

func envMap(t testing.TB) map[string]string {
	t.Helper()
	rc := filepath.Join(t.TempDir(), "tofurc")
	if err := os.WriteFile(rc, nil, 0o644); err != nil {
		t.Fatalf("write CLI config: %v", err)
	}
	m := make(map[string]string)
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TF_") {
			continue
		}
		m[k] = v
	}
	m["TF_IN_AUTOMATION"] = "1"
	m["CHECKPOINT_DISABLE"] = "1"
	m["TF_CLI_CONFIG_FILE"] = rc
	return m
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// build compiles the pinned OpenTofu into out. "go install module@version"
// does not work because OpenTofu's go.mod has replace directives, so the
// module source is downloaded, copied to a writable directory (the module
// cache is read-only) and built there as the main module.
func build(ctx context.Context, out string) error {
	work, err := os.MkdirTemp("", "tofutest-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	src, err := download(ctx, work)
	if err != nil {
		return err
	}
	dst := filepath.Join(work, "src")
	if err := copyTree(src, dst); err != nil {
		return fmt.Errorf("copy source: %w", err)
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", abs, "./cmd/tofu")
	cmd.Dir = dst
	cmd.Env = goEnv()
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/tofu: %w\n%s", errors.Join(err, ctx.Err()), tail(msg))
	}
	return nil
}

// download fetches the module into the module cache and returns its
// directory. It runs in an empty directory so that no go.mod or go.work
// of the caller is involved.
func download(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", Module+"@"+Version)
	cmd.Dir = dir
	cmd.Env = goEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	var info struct {
		Dir   string
		Error string
	}
	// On failure go still prints JSON with an Error field; prefer it.
	if jerr := json.Unmarshal(stdout, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", Module, Version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w\n%s", Module, Version, errors.Join(err, ctx.Err()), tail(stderr.Bytes()))
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no Dir in output", Module, Version)
	}
	return info.Dir, nil
}

func goEnv() []string {
	return append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
}

// copyTree copies regular files and directories from src to dst, making
// everything writable by the owner.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		default:
			// Module zips hold only files and directories.
			return nil
		}
	})
}

// tail keeps the end of a long build log, where the error is.
func tail(b []byte) []byte {
	const max = 8 << 10
	if len(b) > max {
		return b[len(b)-max:]
	}
	return b
}
