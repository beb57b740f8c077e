// Package buildcache keeps the tools the tests need (OpenTofu, MinIO),
// built from pinned Go modules, in a cache outside the repository, and
// builds each one once even when several test binaries ask at the same
// time.
package buildcache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Dir returns the cache directory: $LABLINK_CACHE_DIR when set, else
// "lablink" under os.UserCacheDir. It is created if missing.
func Dir() (string, error) {
	dir := os.Getenv("LABLINK_CACHE_DIR")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("buildcache: %w", err)
		}
		dir = filepath.Join(base, "lablink")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("buildcache: %w", err)
	}
	return dir, nil
}

// Ensure returns the path of the cached file name (for example
// "tofu-v1.12.6"), calling build to produce it when it is missing. build
// must write the file at out; Ensure renames it into place only when build
// succeeds, so a failed or interrupted build never leaves a half-written
// binary behind. An exclusive lock on name+".lock" serializes builders
// across processes: the first builds, the others wait and reuse its result.
func Ensure(ctx context.Context, name string, build func(ctx context.Context, out string) error) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	final := filepath.Join(dir, name)
	if usable(final) {
		return final, nil
	}

	lock, err := os.OpenFile(final+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("buildcache: %w", err)
	}
	defer lock.Close()
	if err := flock(ctx, lock); err != nil {
		return "", fmt.Errorf("buildcache: lock %s: %w", name, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	// Another process may have built it while this one waited.
	if usable(final) {
		return final, nil
	}
	tmp, err := os.MkdirTemp(dir, name+".build-")
	if err != nil {
		return "", fmt.Errorf("buildcache: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, name)
	if err := build(ctx, out); err != nil {
		return "", fmt.Errorf("buildcache: build %s: %w", name, err)
	}
	if !usable(out) {
		return "", fmt.Errorf("buildcache: build %s wrote no executable", name)
	}
	if err := os.Rename(out, final); err != nil {
		return "", fmt.Errorf("buildcache: %w", err)
	}
	return final, nil
}

func usable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o100 != 0
}

// flock takes an exclusive lock, giving up when ctx ends. Polling keeps the
// wait cancellable; builds take minutes, so a short poll costs nothing.
func flock(ctx context.Context, f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
