package inventory

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Tracked is one client VM the OpenTofu state holds, as Orphans compares
// it with the cloud's instances.
type Tracked struct {
	// Index is the VM's count index (the index_key of its state entry).
	Index int
	// ID is the id OpenTofu recorded: an aws_instance's EC2 instance id; a
	// terraform_data's id, or the local module's input.inventory_id.
	ID string
	// LaunchID is the launch that created the VM: an aws_instance's
	// lablink:launch-id tag, a terraform_data's input.launch_id; "" when
	// it has none.
	LaunchID string
}

// Holds reports whether t is the VM in of the cloud: the same id, or,
// for a VM of the local inventory (whose id is not always the one
// OpenTofu records), the same index and launch. An EC2 instance is the
// VM of its instance id only: another of the same index and launch (a
// retried apply's) is not the one the state holds.
func (t Tracked) Holds(in Instance) bool {
	return t.ID == in.ID ||
		in.Source == SourceDir && in.LaunchID != "" && t.Index == in.Index && t.LaunchID == in.LaunchID
}

// Options say how Orphans writes its commands. The zero value means the
// defaults.
type Options struct {
	// Tofu is the program the import command runs. Default "tofu".
	Tofu string
	// Dir is the working directory of the import, passed as -chdir.
	// Default "": none, the current directory.
	Dir string
	// VarFile is the variable file the import reads the module's
	// variables from (import evaluates the module), relative to Dir.
	// Default "": none.
	VarFile string
	// Resource is the address of the client VMs' resource. Default
	// "aws_instance.lablink_vm" for EC2's instances and
	// "terraform_data.lablink_vm" for the local inventory's VMs.
	Resource string
}

// Orphan is a VM the cloud holds and the OpenTofu state does not, with
// the commands that resolve it: one or the other, never both.
type Orphan struct {
	Instance
	// Address is the VM's address in the state, Resource[Index]; "" when
	// its index is unknown.
	Address string
	// Import is the shell command that adds the VM to the state at
	// Address, after which OpenTofu manages it again; "" when it cannot
	// (NoImport says why).
	Import string
	// NoImport says why Import is ""; "" when there is an Import.
	NoImport string
	// Terminate is the shell command that removes the VM from the cloud:
	// aws ec2 terminate-instances for EC2, rm of its file for the local
	// module's inventory.
	Terminate string
}

// Orphans returns the instances that state does not hold, sorted by
// Index, then LaunchTime, then ID, each with its commands. A nil opts
// means the defaults. It is pure: it reads nothing and runs nothing.
//
// An instance is held when a Tracked Holds it: an EC2 instance by its
// instance id, a VM of the local inventory by its id or by its index and
// launch id (which its id is derived from).
//
// Import is offered at a free address only: not where the state holds a
// VM, and to one orphan of an index only (the first launched; the others
// must go). An EC2 instance whose Name is not {deployment}-vm-{n} has no
// address. A VM of the local inventory has no Import at all: terraform_data
// imports without the input it was created with, so OpenTofu would plan
// to replace it, which the allocator refuses; removing its file is the way.
func Orphans(instances []Instance, state []Tracked, opts *Options) []Orphan {
	o := withDefaults(opts)
	taken := map[int]bool{}
	for _, t := range state {
		taken[t.Index] = true
	}
	var out []Orphan
	for _, in := range instances {
		if slices.ContainsFunc(state, func(t Tracked) bool { return t.Holds(in) }) {
			continue
		}
		out = append(out, Orphan{Instance: in})
	}
	slices.SortFunc(out, func(a, b Orphan) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), a.LaunchTime.Compare(b.LaunchTime), strings.Compare(a.ID, b.ID))
	})
	claimed := map[int]string{}
	for i := range out {
		orph := &out[i]
		orph.Terminate = o.terminate(orph.Instance)
		if orph.Index >= 0 {
			orph.Address = o.resource(orph.Source) + "[" + strconv.Itoa(orph.Index) + "]"
		}
		switch first, dup := claimed[orph.Index]; {
		case orph.Source == SourceDir:
			orph.NoImport = "a terraform_data imports without the input it was created with, so OpenTofu would replace it; remove its file"
		case orph.Index < 0:
			orph.NoImport = fmt.Sprintf("its Name %q is not %s-vm-{n}, so it has no address in the state", orph.Name, orph.Deployment)
		case taken[orph.Index]:
			orph.NoImport = "the state holds another VM at " + orph.Address
		case dup:
			orph.NoImport = "orphan " + first + ", launched first, takes " + orph.Address
		default:
			claimed[orph.Index] = orph.ID
			orph.Import = o.importCommand(orph.Address, orph.ID)
		}
	}
	return out
}

func withDefaults(opts *Options) Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Tofu == "" {
		o.Tofu = "tofu"
	}
	return o
}

func (o Options) resource(src Source) string {
	switch {
	case o.Resource != "":
		return o.Resource
	case src == SourceDir:
		return "terraform_data.lablink_vm"
	}
	return "aws_instance.lablink_vm"
}

func (o Options) importCommand(address, id string) string {
	args := []string{o.Tofu}
	if o.Dir != "" {
		args = append(args, "-chdir="+o.Dir)
	}
	args = append(args, "import")
	if o.VarFile != "" {
		args = append(args, "-var-file="+o.VarFile)
	}
	return shellJoin(append(args, address, id)...)
}

func (o Options) terminate(in Instance) string {
	if in.Source == SourceDir {
		return shellJoin("rm", "--", in.Path)
	}
	args := []string{"aws", "ec2", "terminate-instances"}
	if in.Region != "" {
		args = append(args, "--region", in.Region)
	}
	return shellJoin(append(args, "--instance-ids", in.ID)...)
}

// shellJoin joins args into one POSIX shell command line, quoting each
// argument that holds anything but letters, digits and _@%+=:,./-.
func shellJoin(args ...string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_@%+=:,./-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
