//go:build !unix

package tofu

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
