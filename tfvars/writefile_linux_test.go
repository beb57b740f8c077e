package tfvars

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	if err := WriteFile(path, []byte(old)); err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	small := lim
	small.Cur = 4096
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, []byte(strings.Repeat("# padding\n", 1000)+"instance_count = 2\n"))
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); rerr != nil {
		t.Fatal(rerr)
	}
	if !errors.Is(err, syscall.EFBIG) || !strings.Contains(err.Error(), path) {
		t.Fatalf("WriteFile = %v, want EFBIG naming %s", err, path)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != old {
		t.Errorf("old file = %q, %v; want it intact", got, err)
	}
	if diff := cmp.Diff([]string{"terraform.runtime.tfvars"}, dirNames(t, dir)); diff != "" {
		t.Errorf("temporary file left behind (-want +got):\n%s", diff)
	}
}
