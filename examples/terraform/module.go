// Package terraform embeds the LabLink client-VM module that the allocator
// applies with OpenTofu or Terraform, in two variants:
//
//   - "aws": the real module (EC2 instances, security group, IAM instance
//     profile, SSH key pair).
//   - "local": a provider-free twin in which terraform_data stands in for
//     each VM, so OpenTofu can plan and apply it offline in tests and dry
//     runs.
//
// Both variants share variables.tf, the boot script (user_data.sh.tftpl)
// and the locals that render it once per VM (user_data.tf), byte for byte,
// so a tfvars file that works with one works with the other, and the local
// module's user_data output is exactly what each EC2 instance boots with.
//
// The variables follow the contract of upstream's client module
// (talmolab/lablink, packages/allocator/src/lablink_allocator_service/terraform):
// testdata/upstream-variables.tf records its shape, and the tests list each
// deliberate difference. The boot script registers the VM with the
// allocator (POST /api/v1/clients/register) and starts the client
// container with the environment the client image's start.sh reads; no
// value ever reaches the shell as code.
package terraform

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

//go:embed all:aws all:local
var modules embed.FS

// Names lists the embedded modules.
var Names = []string{"aws", "local"}

// ErrUnknownModule is returned for a module name not in [Names].
var ErrUnknownModule = errors.New("unknown module")

// FS returns the files of the module name ("aws" or "local"), rooted at
// the module directory.
func FS(name string) (fs.FS, error) {
	if !slices.Contains(Names, name) {
		return nil, fmt.Errorf("terraform module %q: %w", name, ErrUnknownModule)
	}
	return fs.Sub(modules, name)
}

// Materialize writes the module name into dir, which must be missing or
// empty; it is created with mode 0755 when missing. Files get mode 0644.
// It never overwrites: a non-empty dir is an error and nothing is written.
func Materialize(name, dir string) error {
	fsys, err := FS(name)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("materialize %s: %w", name, err)
		}
	case err != nil:
		return fmt.Errorf("materialize %s: %w", name, err)
	case len(entries) > 0:
		return fmt.Errorf("materialize %s: %s is not empty", name, dir)
	}
	err = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			if path == "." {
				return nil
			}
			return os.Mkdir(target, 0o755)
		}
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		return writeNew(target, data)
	})
	if err != nil {
		return fmt.Errorf("materialize %s: %w", name, err)
	}
	return nil
}

// writeNew creates path with O_EXCL, so a file that appeared since the
// emptiness check is not overwritten.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// The umask may have cleared bits of 0644.
		err = os.Chmod(path, 0o644)
	}
	return err
}
