//go:build unix

package unpriv

import (
	"fmt"
	"os"
	"syscall"
)

// sysProcAttr drops root to ID for the child; nil for any other user.
func sysProcAttr() *syscall.SysProcAttr {
	if os.Geteuid() != 0 {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: ID, Gid: ID, Groups: []uint32{}}}
}

func who() string {
	if os.Geteuid() != 0 {
		return fmt.Sprintf("uid %d", os.Geteuid())
	}
	return fmt.Sprintf("uid %d", ID)
}
