//go:build !unix

package unpriv

import "syscall"

// sysProcAttr: without unix credentials the child runs as this user.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func who() string { return "this user" }
