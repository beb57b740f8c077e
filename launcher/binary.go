package launcher

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// errNoBinary: no OpenTofu or Terraform binary was found.
var errNoBinary = errors.New("no OpenTofu or Terraform binary found: pass its path, set TOFU_PATH, or put tofu or terraform on PATH")

// FindBinary returns the OpenTofu or Terraform binary to run: explicit
// when non-empty, else $TOFU_PATH, else `tofu` on PATH, else `terraform`
// on PATH. OpenTofu comes first because upstream LabLink moved to it.
func FindBinary(explicit string) (string, error) {
	if explicit != "" {
		return checkBinary(explicit)
	}
	if p := os.Getenv("TOFU_PATH"); p != "" {
		return checkBinary(p)
	}
	for _, name := range []string{"tofu", "terraform"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errNoBinary
}

func checkBinary(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("opentofu binary: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("opentofu binary %s is not an executable file", p)
	}
	return p, nil
}
