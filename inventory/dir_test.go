package inventory_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/testkit/unpriv"
	"github.com/lablink-go/lablink/inventory"
)

// writeRecord writes r as the local module does, and sets the file's time.
func writeRecord(t *testing.T, dir string, r inventory.Record, mtime time.Time) string {
	t.Helper()
	data, err := json.Marshal(r)
	require.NoError(t, err)
	path := filepath.Join(dir, r.ID+".json")
	require.NoError(t, os.WriteFile(path, append(data, '\n'), 0o644))
	require.NoError(t, os.Chtimes(path, mtime, mtime))
	return path
}

func TestDirInstances(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	recs := []inventory.Record{
		{ID: "b6d1762a-b61a-5abb-954b-05b9a89da1f7", Name: deployment + "-vm-1", Index: 0, LaunchID: "l1", Deployment: deployment},
		{ID: "0c2f4d4f-a86b-5f2d-ad0e-5c943ed385e1", Name: deployment + "-vm-2", Index: 1, LaunchID: "l1", Deployment: deployment},
		{ID: "9a21d1f5-0527-537f-a4a2-c5503b230d36", Name: "other-vm-1", Index: 0, LaunchID: "l1", Deployment: "other"},
	}
	var want []inventory.Instance
	for i, r := range recs {
		path := writeRecord(t, dir, r, at.Add(time.Duration(i)*time.Second))
		if r.Deployment == deployment {
			want = append(want, inventory.Instance{ID: r.ID, Name: r.Name, Index: r.Index, LaunchID: r.LaunchID, Deployment: r.Deployment,
				State: "running", LaunchTime: at.Add(time.Duration(i) * time.Second), Source: inventory.SourceDir, Path: path})
		}
	}
	// What the module leaves while it writes a record, and what is not a
	// record at all.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".x.json.tmp"), []byte("{"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".hidden.json"), []byte("{"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.json"), 0o755))

	got, err := inventory.NewDir(dir, deployment).Instances(t.Context())
	require.NoError(t, err)
	assert.Equal(t, want, got)

	all, err := inventory.NewDir(dir, "").Instances(t.Context())
	require.NoError(t, err)
	assert.Len(t, all, 3, "every deployment")

	got, err = inventory.NewDir(filepath.Join(dir, "missing"), deployment).Instances(t.Context())
	assert.NoError(t, err, "a directory the module has not created yet")
	assert.Empty(t, got)
}

func TestDirBadRecords(t *testing.T) {
	const id = "f4c4ff7e-bba1-56f8-84ca-6819659873cc"
	good := `{"deployment":"d","id":"` + id + `","index":2,"launch_id":"l","name":"d-vm-3"}`
	tests := []struct {
		name, data, msg string
	}{
		{"not JSON", "{", "unexpected EOF"},
		{"two values", good + good, "more than one JSON value"},
		{"missing fields", `{"id":"` + id + `","name":"d-vm-3"}`, "no index, launch_id, deployment"},
		{"another id", `{"deployment":"d","id":"x","index":2,"launch_id":"l","name":"d-vm-3"}`, `id "x" in the file of "` + id + `"`},
		{"negative index", `{"deployment":"d","id":"` + id + `","index":-1,"launch_id":"l","name":"d-vm-0"}`, "index -1"},
		{"name of another index", `{"deployment":"d","id":"` + id + `","index":1,"launch_id":"l","name":"d-vm-3"}`, `name "d-vm-3" is not VM 2 of deployment "d"`},
		{"wrong type", `{"deployment":"d","id":"` + id + `","index":"2","launch_id":"l","name":"d-vm-3"}`, "cannot unmarshal string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			bad := filepath.Join(dir, id+".json")
			require.NoError(t, os.WriteFile(bad, []byte(tt.data), 0o644))
			ok := writeRecord(t, dir, inventory.Record{ID: "a", Name: "d-vm-1", Index: 0, LaunchID: "l", Deployment: "d"}, time.Now())

			got, err := inventory.NewDir(dir, "d").Instances(t.Context())
			require.Error(t, err, "%s: no error", tt.name)
			assert.ErrorIs(t, err, inventory.ErrInvalidRecord)
			var fe *inventory.FileError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, bad, fe.Path)
			assert.ErrorContains(t, err, tt.msg)
			require.Len(t, got, 1, "%s: the good record is still listed", tt.name)
			assert.Equal(t, ok, got[0].Path)
		})
	}
}

// TestDirUnreadable reads a record its user may not read. CI runs as root,
// which reads any file, so the read happens in a child as another user.
func TestDirUnreadable(t *testing.T) {
	type reply struct {
		Err  unpriv.Error
		Path string // the FileError's, "" when the error is not one
	}
	if unpriv.Child(t) {
		_, err := inventory.NewDir(unpriv.Arg(), "d").Instances(context.Background())
		r := reply{Err: unpriv.ErrorOf(err)}
		if fe := (*inventory.FileError)(nil); errors.As(err, &fe) {
			r.Path = fe.Path
		}
		unpriv.Reply(t, r)
		return
	}
	dir := unpriv.Dir(t)
	path := writeRecord(t, dir, inventory.Record{ID: "a", Name: "d-vm-1", Index: 0, LaunchID: "l", Deployment: "d"}, time.Now())
	require.NoError(t, os.Chmod(path, 0))
	var got reply
	unpriv.Run(t, dir, &got)
	require.NotEmpty(t, got.Err.Err, "an unreadable record was read")
	assert.True(t, got.Err.Permission, "%s; want an error matching fs.ErrPermission", got.Err.Err)
	assert.Equal(t, path, got.Path, "the error is a FileError naming the record")
}
