package launcher

import "syscall"

// sysProcAttr puts an OpenTofu process the launcher runs in a process
// group of its own and has the kernel kill it when the launcher dies, as
// terraform-exec does for the processes it runs.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
