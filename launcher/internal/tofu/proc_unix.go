//go:build unix

package tofu

import "syscall"

// sysProcAttr puts the process in a process group of its own. Unlike
// terraform-exec, it asks for no Pdeathsig: OpenTofu outlives an
// allocator that dies during an apply and finishes it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
