package tfvars

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// WriteFile writes data to path atomically and with mode 0600, because a
// variable-definitions file often holds secrets.
//
// It creates a temporary file in the same directory (so the final rename
// cannot cross file systems), writes and fsyncs it, renames it over path and
// then fsyncs the directory so the rename itself survives a crash. If any
// step before the rename fails, the temporary file is removed and an existing
// file at path is left untouched. An error from the final directory sync is
// returned even though path already holds the new content.
//
// Concurrent WriteFile calls for the same path do not corrupt it: the last
// rename wins.
func WriteFile(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := writeTemp(dir, base, data)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp) // best effort; the rename error is what matters
		return fmt.Errorf("write %s: %w", path, err)
	}
	// The new file is in place; from here on only its durability is in
	// doubt, so nothing is removed.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	return nil
}

// writeTemp writes data to a new temporary file in dir, synced and closed,
// and returns its name. On failure nothing is left behind.
func writeTemp(dir, base string, data []byte) (name string, err error) {
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = f.Close() // may already be closed; that error is irrelevant
			_ = os.Remove(f.Name())
		}
	}()
	// CreateTemp already asks for 0600, but the umask could narrow it.
	if err := f.Chmod(0o600); err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing there
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
