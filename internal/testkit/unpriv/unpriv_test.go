package unpriv_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/testkit/unpriv"
)

type ids struct {
	UID, GID int
	Groups   []int
	Arg      string
	Write    unpriv.Error
}

// The child runs as ID (or as this user when it is not root), with no
// supplementary groups, gets Arg, and cannot write into a Dir.
func TestRunDropsRoot(t *testing.T) {
	if unpriv.Child(t) {
		groups, err := os.Getgroups()
		require.NoError(t, err)
		err = os.WriteFile(filepath.Join(unpriv.Arg(), "f"), nil, 0o600)
		unpriv.Reply(t, ids{UID: os.Geteuid(), GID: os.Getegid(), Groups: groups, Arg: unpriv.Arg(), Write: unpriv.ErrorOf(err)})
		return
	}
	dir := unpriv.Dir(t)
	require.NoError(t, os.Chmod(dir, 0o555))
	var got ids
	unpriv.Run(t, dir, &got)
	wantUID, wantGID := unpriv.ID, unpriv.ID
	if os.Geteuid() != 0 {
		wantUID, wantGID = os.Geteuid(), os.Getegid()
	} else {
		assert.Empty(t, got.Groups, "the child's supplementary groups")
	}
	assert.Equal(t, []int{wantUID, wantGID}, []int{got.UID, got.GID}, "the child's user and group")
	assert.Equal(t, dir, got.Arg, "the child's Arg")
	assert.True(t, got.Write.Permission, "the child wrote into a read-only Dir: %+v", got.Write)
	assert.NoFileExists(t, filepath.Join(dir, "f"))
}

// Subtests are selected exactly: the child of one subtest runs no other.
func TestRunSelectsTheSubtest(t *testing.T) {
	for _, name := range []string{"a", "a b", "a.*"} {
		t.Run(name, func(t *testing.T) {
			if unpriv.Child(t) {
				unpriv.Reply(t, t.Name())
				return
			}
			var got string
			unpriv.Run(t, "", &got)
			assert.Equal(t, t.Name(), got)
		})
	}
}
