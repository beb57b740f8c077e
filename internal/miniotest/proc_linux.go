package miniotest

import "syscall"

// sysProcAttr asks the kernel to kill MinIO if the test binary dies without
// stopping it (a panic, a timeout, os.Exit without Run).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
