package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrInvalidRecord is matched by the error for an inventory file that is
// not a Record of the name it has.
var ErrInvalidRecord = errors.New("not an inventory record")

// FileError reports an inventory file that could not be read.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return "inventory: " + e.Path + ": " + e.Err.Error() }

func (e *FileError) Unwrap() error { return e.Err }

// Record is the file the local client module writes for each VM it
// creates, <inventory_dir>/<ID>.json, one JSON object on one line:
//
//	{"deployment":"sleap-lablink-client-prod","id":"0c2f4d4f-a86b-5f2d-ad0e-5c943ed385e1","index":1,"launch_id":"20260101T120000Z-1a2b3c4d","name":"sleap-lablink-client-prod-vm-2"}
//
// ID is a UUID the module derives from the deployment, the launch id and
// the index, known at plan time. The module writes the file aside and
// links it into place, so a reader never sees half of one; names starting
// with "." are such temporaries.
type Record struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Index      int    `json:"index"`
	LaunchID   string `json:"launch_id"`
	Deployment string `json:"deployment"`
}

// Dir lists the VMs of the local module's inventory directory (its
// inventory_dir variable). It is safe for concurrent use and holds nothing
// to close.
type Dir struct {
	path       string
	deployment string
}

// NewDir returns the inventory kept in the directory path, listing the
// VMs of deployment (a resource_prefix), or of every deployment when it
// is "".
func NewDir(path, deployment string) *Dir {
	return &Dir{path: path, deployment: deployment}
}

// Instances reads every record of the directory. A directory that does
// not exist holds no VM (the module creates it with the first one). A
// file that cannot be read or is not a Record of its name is reported as
// a *FileError (matching ErrInvalidRecord when the contents are wrong),
// all of them joined, after the instances of the other files.
func (d *Dir) Instances(ctx context.Context) ([]Instance, error) {
	entries, err := os.ReadDir(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	var out []Instance
	var errs []error
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("inventory: %w", err))
			break
		}
		path := filepath.Join(d.path, e.Name())
		inst, err := readRecord(path, id, e)
		if err != nil {
			errs = append(errs, &FileError{Path: path, Err: err})
			continue
		}
		if d.deployment != "" && inst.Deployment != d.deployment {
			continue
		}
		out = append(out, inst)
	}
	sortInstances(out)
	return out, errors.Join(errs...)
}

// readRecord reads the record of the VM id from path, the file of e.
func readRecord(path, id string, e fs.DirEntry) (Instance, error) {
	fi, err := e.Info()
	if err != nil {
		return Instance{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Instance{}, err
	}
	r, err := parseRecord(data, id)
	if err != nil {
		return Instance{}, err
	}
	return Instance{
		ID:         r.ID,
		Name:       r.Name,
		Index:      r.Index,
		LaunchID:   r.LaunchID,
		Deployment: r.Deployment,
		State:      "running",
		LaunchTime: fi.ModTime().UTC(),
		Source:     SourceDir,
		Path:       path,
	}, nil
}

// parseRecord decodes one record and checks it: every field present, the
// id that of the file name, the name that of the index.
func parseRecord(data []byte, id string) (Record, error) {
	var raw struct {
		ID         *string `json:"id"`
		Name       *string `json:"name"`
		Index      *int    `json:"index"`
		LaunchID   *string `json:"launch_id"`
		Deployment *string `json:"deployment"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if dec.More() {
		return Record{}, fmt.Errorf("%w: more than one JSON value", ErrInvalidRecord)
	}
	var missing []string
	for _, f := range []struct {
		name    string
		present bool
	}{
		{"id", raw.ID != nil}, {"name", raw.Name != nil}, {"index", raw.Index != nil},
		{"launch_id", raw.LaunchID != nil}, {"deployment", raw.Deployment != nil},
	} {
		if !f.present {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return Record{}, fmt.Errorf("%w: no %s", ErrInvalidRecord, strings.Join(missing, ", "))
	}
	r := Record{ID: *raw.ID, Name: *raw.Name, Index: *raw.Index, LaunchID: *raw.LaunchID, Deployment: *raw.Deployment}
	switch {
	case r.ID != id:
		return Record{}, fmt.Errorf("%w: id %q in the file of %q", ErrInvalidRecord, r.ID, id)
	case r.Index < 0:
		return Record{}, fmt.Errorf("%w: index %d", ErrInvalidRecord, r.Index)
	case indexOf(r.Deployment, r.Name) != r.Index:
		return Record{}, fmt.Errorf("%w: name %q is not VM %d of deployment %q", ErrInvalidRecord, r.Name, r.Index+1, r.Deployment)
	}
	return r, nil
}
