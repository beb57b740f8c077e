package tfvars

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteFileDiskFull fills the "disk" in the middle of the write: with
// RLIMIT_FSIZE below the new content's size, the kernel refuses the write
// part-way (EFBIG; Go ignores SIGXFSZ), as it would with ENOSPC. The old
// file must stay as it was and no temporary file may remain. Not
// parallel: the limit holds for the whole process while it is set.
func TestWriteFileDiskFull(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "terraform.runtime.tfvars")
	old := "instance_count = 1\n"
	require.NoError(t, WriteFile(path, []byte(old)), "first WriteFile")
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim))
	small := lim
	small.Cur = 4096
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small))
	err := WriteFile(path, []byte(strings.Repeat("# padding\n", 1000)+"instance_count = 2\n"))
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim), "restore RLIMIT_FSIZE")
	require.ErrorIs(t, err, syscall.EFBIG, "WriteFile past the limit")
	require.ErrorContains(t, err, path, "WriteFile past the limit must name the file")
	got, err := os.ReadFile(path)
	if assert.NoError(t, err, "old file") {
		assert.Equal(t, old, string(got), "old file must stay intact")
	}
	assert.Equal(t, []string{"terraform.runtime.tfvars"}, dirNames(t, dir), "directory entries: temporary file left behind")
}
