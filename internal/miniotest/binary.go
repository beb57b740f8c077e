package miniotest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/lablink-go/lablink/internal/buildcache"
)

// Binary returns the path of a MinIO server binary: $MINIO_PATH when set,
// else "minio" found on PATH, else the pinned version built once into the
// build cache.
func Binary(ctx context.Context) (string, error) {
	if p := os.Getenv("MINIO_PATH"); p != "" {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("MINIO_PATH: %w", err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("MINIO_PATH %s is not an executable file", p)
		}
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return buildcache.Ensure(ctx, "minio-"+Version, build)
}

// build installs the pinned module with "go install" outside any module, so
// that neither this repository's go.mod nor a go.work file takes part.
func build(ctx context.Context, out string) error {
	work, err := os.MkdirTemp("", "miniotest-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// GOBIN next to out, so that the final move is a rename on one file system.
	gobin, err := os.MkdirTemp(filepath.Dir(out), "gobin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(gobin)

	cmd := exec.CommandContext(ctx, "go", "install", Module+"@"+Version)
	cmd.Dir = work
	// Later entries win in os/exec, so these override the inherited ones
	// while GOPROXY, GOMODCACHE, GOCACHE and the rest are kept.
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod", "GOWORK=off")
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go install %s@%s: %w\n%s", Module, Version, err, tail(output.Bytes(), 4000))
	}
	return os.Rename(filepath.Join(gobin, "minio"), out)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
