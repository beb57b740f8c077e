// Package atomicfile writes files that a crash leaves whole or untouched,
// mode 0600: the runtime tfvars, the state copies, the tokens, the
// launcher's journal and run records.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// Write writes data to path atomically and with mode 0600: a temporary
// file in the same directory (so the rename cannot cross file systems),
// written and fsynced, renamed over path, then the directory fsynced so
// that the rename itself survives a crash. If a step before the rename
// fails, the temporary file is removed and a file at path is left
// untouched. Concurrent writers of one path do not corrupt it: the last
// rename wins. The directory must exist.
func Write(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := Temp(dir, base, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp) // best effort; the rename error is what matters
		return err
	}
	// The new file is in place; from here on only its durability is in
	// doubt, so nothing is removed.
	return SyncDir(dir)
}

// Temp writes data to a new temporary file in dir, named after base and
// hidden, synced, closed and of mode 0600, and returns its name, for a
// caller that moves it into place itself (with a link, which never
// replaces a file). On failure nothing is left behind.
func Temp(dir, base string, data []byte) (name string, err error) {
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

// SyncDir fsyncs the directory dir, so that a rename or link in it
// survives a crash.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing there
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
