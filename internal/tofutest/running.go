package tofutest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Running lists the pids of the OpenTofu (or Terraform) processes whose
// working directory is dir: an executable whose name holds "tofu" or
// "terraform" (a wrapper script execs the real binary).
func Running(dir string) []int {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || cwd != abs {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		base := filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
		if err == nil && (strings.Contains(base, "tofu") || strings.Contains(base, "terraform")) {
			pids = append(pids, pid)
		}
	}
	return pids
}
