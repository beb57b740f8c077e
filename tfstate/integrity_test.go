package tfstate_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/tfstate"
)

// state is a local state file of n client VMs.
func state(serial int, lineage string, n int) string {
	inst := ""
	for i := range n {
		if i > 0 {
			inst += ","
		}
		inst += fmt.Sprintf(`{"index_key":%d,"attributes":{"id":"vm-%d"}}`, i, i)
	}
	return fmt.Sprintf(`{"version":4,"terraform_version":"1.12.6","serial":%d,"lineage":%q,"outputs":{},"resources":[`+
		`{"mode":"managed","type":"terraform_data","name":"lablink_vm","provider":"provider[\"terraform.io/builtin/terraform\"]","instances":[%s]}]}`,
		serial, lineage, inst)
}

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

// keep writes content as the state of dir and keeps a copy of it.
func keep(t *testing.T, dir, content string, at time.Time) *tfstate.Copy {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, tfstate.LocalFile), []byte(content), 0o600))
	c, err := tfstate.Keep(dir, at)
	require.NoError(t, err)
	return c
}

func TestCheck(t *testing.T) {
	good := state(7, "lin-a", 3)
	for _, tt := range []struct {
		name    string
		copy    string // kept before the state below is written; "" none
		state   *string
		wantErr error
	}{
		{name: "fresh directory", state: nil},
		{name: "empty, nothing kept", state: ptr("")},
		{name: "empty, copy without resources", copy: state(1, "lin-a", 0), state: ptr("")},
		{name: "good, no copy", state: &good},
		{name: "good, same as copy", copy: good, state: &good},
		{name: "newer than copy", copy: good, state: ptr(state(9, "lin-a", 5))},
		{name: "empty after an apply was killed", copy: good, state: ptr(""), wantErr: tfstate.ErrEmpty},
		{name: "truncated", copy: good, state: ptr(good[:len(good)/2]), wantErr: tfstate.ErrCorrupt},
		{name: "truncated, nothing kept", state: ptr(good[:40]), wantErr: tfstate.ErrCorrupt},
		{name: "not a state", state: ptr(`{"hello":"world"}`), wantErr: tfstate.ErrCorrupt},
		{name: "older serial", copy: good, state: ptr(state(6, "lin-a", 3)), wantErr: tfstate.ErrOlder},
		{name: "other lineage", copy: good, state: ptr(state(8, "lin-b", 3)), wantErr: tfstate.ErrLineage},
		{name: "missing", copy: good, state: nil, wantErr: tfstate.ErrMissing},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.copy != "" {
				keep(t, dir, tt.copy, t0)
			}
			p := filepath.Join(dir, tfstate.LocalFile)
			require.NoError(t, os.RemoveAll(p))
			if tt.state != nil {
				require.NoError(t, os.WriteFile(p, []byte(*tt.state), 0o600))
			}
			err := tfstate.Check(dir)
			if tt.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.wantErr)
			var ie *tfstate.IntegrityError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, p, ie.File)
			assert.Contains(t, err.Error(), p, "names the file")
			if tt.copy != "" {
				require.NotNil(t, ie.Copy)
				assert.Contains(t, err.Error(), ie.Copy.Path, "names the copy to restore")
			}
		})
	}
}

func ptr(s string) *string { return &s }

// Copies are kept newest first, at most 20, and an empty state is not kept.
func TestKeepAndCopies(t *testing.T) {
	dir := t.TempDir()
	for i := range 25 {
		keep(t, dir, state(i+1, "lin", i), t0.Add(time.Duration(i)*time.Second))
	}
	copies, err := tfstate.Copies(dir)
	require.NoError(t, err)
	require.Len(t, copies, 20)
	assert.Equal(t, uint64(25), copies[0].Info.Serial, "newest first")
	assert.Equal(t, uint64(6), copies[19].Info.Serial)
	fi, err := os.Stat(copies[0].Path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	require.NoError(t, os.WriteFile(filepath.Join(dir, tfstate.LocalFile), nil, 0o600))
	c, err := tfstate.Keep(dir, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Nil(t, c, "nothing to keep of an empty file")
}

// Restore brings the copy back, keeps the replaced file, and Diff says
// what it changes.
func TestRestoreAndDiff(t *testing.T) {
	dir := t.TempDir()
	c := keep(t, dir, state(4, "lin", 3), t0)
	p := filepath.Join(dir, tfstate.LocalFile)
	require.NoError(t, os.WriteFile(p, []byte(`{"version":4,"ser`), 0o600))

	d := tfstate.Diff(dir, *c)
	assert.Contains(t, d.Current, "17 bytes")
	assert.Equal(t, 17, d.CurrentBytes)
	assert.Nil(t, d.CurrentInfo, "a state that does not parse")
	assert.Equal(t, "serial 4, lineage lin, 3 resources", d.Restored)
	assert.Equal(t, []string{"terraform_data.lablink_vm[0]", "terraform_data.lablink_vm[1]", "terraform_data.lablink_vm[2]"}, d.Added)
	assert.Empty(t, d.Removed)

	replaced, err := tfstate.Restore(dir, *c, t0)
	require.NoError(t, err)
	assert.NoError(t, tfstate.Check(dir))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, state(4, "lin", 3), string(b))
	kept, err := filepath.Glob(p + ".replaced-*")
	require.NoError(t, err)
	assert.Equal(t, []string{replaced}, kept, "the replaced file is kept, and its path returned")
	b, err = os.ReadFile(replaced)
	require.NoError(t, err)
	assert.Equal(t, `{"version":4,"ser`, string(b))

	require.NoError(t, os.WriteFile(p, []byte(state(5, "lin", 1)), 0o600))
	d = tfstate.Diff(dir, *c)
	require.NotNil(t, d.CurrentInfo)
	assert.Equal(t, uint64(5), d.CurrentInfo.Serial)
	assert.Equal(t, len(state(5, "lin", 1)), d.CurrentBytes)
	assert.Equal(t, []string{"terraform_data.lablink_vm[1]", "terraform_data.lablink_vm[2]"}, d.Added)
}

func TestParseHead(t *testing.T) {
	good := state(7, "lin-a", 3)
	for _, tt := range []struct {
		name    string
		data    string
		want    tfstate.Head
		wantErr error
	}{
		{"whole", good, tfstate.Head{Version: 4, Serial: 7, Lineage: "lin-a"}, nil},
		{"truncated at the end", good[:len(good)-3], tfstate.Head{}, tfstate.ErrCorrupt},
		{"truncated in the head", good[:30], tfstate.Head{}, tfstate.ErrCorrupt},
		{"empty", "", tfstate.Head{}, tfstate.ErrEmpty},
		{"blank", " \n", tfstate.Head{}, tfstate.ErrEmpty},
		{"not an object", `[1,2]`, tfstate.Head{}, tfstate.ErrCorrupt},
		{"no lineage", `{"version":4,"serial":1}`, tfstate.Head{}, tfstate.ErrCorrupt},
		{"head after the resources", `{"resources":[],"lineage":"l","serial":2,"version":4}`, tfstate.Head{Version: 4, Serial: 2, Lineage: "l"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tfstate.ParseHead([]byte(tt.data))
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// Newest knows a copy from its name: it reads no file (here the newest
// copy's bytes are spoiled after it was kept, and it is still found).
func TestNewestFromNames(t *testing.T) {
	dir := t.TempDir()
	keep(t, dir, state(3, "0b1c2d3e-aaaa-bbbb-cccc-0123456789ab", 2), t0)
	c := keep(t, dir, state(4, "0b1c2d3e-aaaa-bbbb-cccc-0123456789ab", 5), t0.Add(time.Second))
	require.NoError(t, os.WriteFile(c.Path, []byte("spoiled"), 0o600))
	n, err := tfstate.Newest(dir)
	require.NoError(t, err)
	require.NotNil(t, n)
	assert.Equal(t, c.Path, n.Path)
	assert.Equal(t, uint64(4), n.Info.Serial)
	assert.Equal(t, "0b1c2d3e-aaaa-bbbb-cccc-0123456789ab", n.Info.Lineage)
	assert.Equal(t, 5, n.Resources)
}
