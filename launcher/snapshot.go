package launcher

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/lablink-go/lablink/tfvars"
)

// writeTFVars writes the runtime tfvars atomically; tests replace it to
// simulate a full disk.
var writeTFVars = tfvars.WriteFile

// tfvarsSnapshot is the runtime tfvars file as it was before a launch
// wrote a new one. Until an apply starts, a failed launch puts it back:
// the file in the working directory is always the one that was last
// applied, which Destroy and the audit trail's latest copy rely on.
type tfvarsSnapshot struct {
	path    string
	prev    []byte
	existed bool
}

// snapshotTFVars reads the runtime tfvars at path as they are now.
func snapshotTFVars(path string) (tfvarsSnapshot, error) {
	prev, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return tfvarsSnapshot{path: path}, nil
	case err != nil:
		return tfvarsSnapshot{}, err
	}
	return tfvarsSnapshot{path: path, prev: prev, existed: true}, nil
}

// restore puts the snapshot back (removes the file when there was none)
// and returns err, the reason, joined with any error of doing so.
func (s tfvarsSnapshot) restore(err error) error {
	if rerr := s.put(); rerr != nil {
		return errors.Join(err, fmt.Errorf("launch: restore the previous runtime tfvars: %w", rerr))
	}
	return err
}

func (s tfvarsSnapshot) put() error {
	if !s.existed {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if cur, err := os.ReadFile(s.path); err == nil && bytes.Equal(cur, s.prev) {
		return nil
	}
	return writeTFVars(s.path, s.prev)
}
