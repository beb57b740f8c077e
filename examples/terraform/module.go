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
// Each VM records the launch that created it (variable launch_id): the
// aws module tags each instance with Name, lablink:deployment (the
// resource_prefix) and lablink:launch-id, and the local module keeps the
// launch id in its terraform_data's input; neither ever updates it. With
// inventory_dir set, the local module also writes one JSON file per VM
// into that directory, the simulated cloud inventory package inventory
// reads.
//
// The variables follow the contract of upstream's client module
// (talmolab/lablink, packages/allocator/src/lablink_allocator_service/terraform):
// testdata/upstream-variables.tf records its shape, and the tests list each
// deliberate difference and each variable of ours only (allocator_port,
// launch_id, inventory_dir). The boot script registers the VM with the
// allocator (POST /api/v1/clients/register) and starts the client
// container with the environment the client image's start.sh reads; no
// value ever reaches the shell as code.
package terraform

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

//go:embed all:aws all:local
var modules embed.FS

// Names lists the embedded modules; the slice is new at each call.
func Names() []string { return []string{"aws", "local"} }

var (
	// ErrUnknownModule is returned for a module name not in [Names] (by
	// [Open]: nor a directory holding *.tf files).
	ErrUnknownModule = errors.New("unknown module")
	// ErrNotModuleDir is returned by [Module.Install] for a directory that
	// holds neither a module nor only what OpenTofu and lablink keep there.
	ErrNotModuleDir = errors.New("neither empty nor an OpenTofu module directory")
)

// FS returns the files of the module name ("aws" or "local"), rooted at
// the module directory.
func FS(name string) (fs.FS, error) {
	if !slices.Contains(Names(), name) {
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
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("materialize %s: %w", name, err)
	case len(entries) > 0:
		return fmt.Errorf("materialize %s: %s is not empty", name, dir)
	}
	if _, err := copyModule(fsys, dir); err != nil {
		return fmt.Errorf("materialize %s: %w", name, err)
	}
	return nil
}

// Module is a client module to put into a working directory: one of the
// embedded modules or a directory of the operator's.
type Module struct {
	fsys fs.FS
	name string // the embedded module's name, or the directory
	dir  bool
}

// Open returns the module spec names: an embedded module ([Names]; the
// name wins over a directory of that name, which "./local" reaches) or a
// directory that holds *.tf files. Anything else is an error matching
// ErrUnknownModule.
func Open(spec string) (*Module, error) {
	if slices.Contains(Names(), spec) {
		fsys, err := FS(spec)
		return &Module{fsys: fsys, name: spec}, err
	}
	has, err := HasModule(spec)
	if err != nil {
		return nil, fmt.Errorf("terraform module %s: %w", spec, err)
	}
	if !has {
		return nil, fmt.Errorf("terraform module %q: want %s or a directory holding *.tf files: %w",
			spec, strings.Join(Names(), ", "), ErrUnknownModule)
	}
	return &Module{fsys: os.DirFS(spec), name: spec, dir: true}, nil
}

// String says which module m is: "the embedded local module", "the module
// in DIR".
func (m *Module) String() string {
	if m.dir {
		return "the module in " + m.name
	}
	return "the embedded " + m.name + " module"
}

// Installation is what [Module.Install] found or did.
type Installation struct {
	// Wrote lists the names of the files Install wrote, sorted; nil when
	// the directory held a module.
	Wrote []string
	// Diff, when the directory held a module, lists the files in which it
	// differs from the module Install was asked for (see [Module.Diff]).
	Diff []string
}

// Install puts m into dir unless dir holds a module already, and never
// overwrites a file.
//
// A dir that holds *.tf files is a module from an earlier run or of the
// operator's (an edit included): Install writes nothing and reports in
// Diff where it differs from m, for the caller to say so.
//
// Otherwise dir (created with mode 0755 when missing) gets m's module
// files, mode 0644. It may already hold what lablink and OpenTofu keep
// there, which stays: hidden entries (.lablink with the kept tokens and the
// audit trail, .terraform), state files and variable files. Anything else
// is an error matching ErrNotModuleDir, naming it, and nothing is written.
// When a write fails, the files written before it are removed.
func (m *Module) Install(dir string) (Installation, error) {
	has, err := HasModule(dir)
	if err != nil {
		return Installation{}, fmt.Errorf("install module: %w", err)
	}
	if has {
		diff, err := m.Diff(dir)
		return Installation{Diff: diff}, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Installation{}, fmt.Errorf("install module: %w", err)
	}
	var foreign []string
	for _, e := range entries {
		if !keptFile(e.Name()) {
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) > 0 {
		return Installation{}, fmt.Errorf("install module: %s is %w: it holds %s",
			dir, ErrNotModuleDir, strings.Join(foreign, ", "))
	}
	wrote, err := copyModule(m.fsys, dir)
	if err != nil {
		return Installation{}, fmt.Errorf("install %s into %s: %w", m, dir, err)
	}
	return Installation{Wrote: wrote}, nil
}

// Diff lists the module files in which dir differs from m: those of m that
// dir lacks or holds with other contents, and those dir alone holds
// (except OpenTofu's override files, override.tf and *_override.tf, by
// which the launcher sets the state backend), sorted. It is empty when dir
// holds m.
func (m *Module) Diff(dir string) ([]string, error) {
	want, err := moduleFiles(m.fsys)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", m, err)
	}
	got, err := moduleFiles(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("read the module in %s: %w", dir, err)
	}
	var diff []string
	for _, name := range want {
		w, err := fs.ReadFile(m.fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", m, err)
		}
		g, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err != nil || !bytes.Equal(g, w) {
			diff = append(diff, name)
		}
	}
	for _, name := range got {
		if !slices.Contains(want, name) && !overrideFile(name) {
			diff = append(diff, name)
		}
	}
	slices.Sort(diff)
	return diff, nil
}

// HasModule reports whether dir holds *.tf files, as OpenTofu reads a
// module from them. A missing dir holds none.
func HasModule(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".tf") {
			return true, nil
		}
	}
	return false, nil
}

// moduleFile reports whether name is part of a module: its configuration
// and the templates and scripts it reads. State, variable files, plans
// and the lock file are not.
func moduleFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	for _, suffix := range []string{".tf", ".tf.json", ".tftpl", ".tpl", ".sh", ".hcl"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// keptFile reports whether a directory entry name, in a working directory
// without a module, is one that lablink or OpenTofu leaves there.
func keptFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return true
	}
	for _, suffix := range []string{".tfstate", ".tfstate.backup", ".tfvars", ".tfvars.json"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// overrideFile reports whether name is an OpenTofu override file.
func overrideFile(name string) bool {
	base, ok := strings.CutSuffix(name, ".tf")
	if !ok {
		base, ok = strings.CutSuffix(name, ".tf.json")
	}
	return ok && (base == "override" || strings.HasSuffix(base, "_override"))
}

// moduleFiles lists the module files at the top of fsys (see moduleFile),
// sorted. A module's own files are all there: OpenTofu reads a module from
// one directory, and the embedded modules are flat.
func moduleFiles(fsys fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && moduleFile(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// copyModule writes the module files of src into dir, created when
// missing, and returns their names, sorted. It never overwrites; on failure
// it removes the files it wrote.
func copyModule(src fs.FS, dir string) (wrote []string, err error) {
	names, err := moduleFiles(src)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			for _, name := range wrote {
				_ = os.Remove(filepath.Join(dir, name))
			}
			wrote = nil
		}
	}()
	for _, name := range names {
		data, err := fs.ReadFile(src, name)
		if err != nil {
			return wrote, err
		}
		if err := writeNew(filepath.Join(dir, name), data); err != nil {
			return wrote, err
		}
		wrote = append(wrote, name)
	}
	return wrote, nil
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
