package inventory

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tag keys of the client VMs of the aws module (examples/terraform/aws).
const (
	// TagName holds the VM's name, {resource_prefix}-vm-{i}.
	TagName = "Name"
	// TagDeployment holds the module's resource_prefix: EC2 lists a
	// deployment's instances by it.
	TagDeployment = "lablink:deployment"
	// TagLaunchID holds the launch_id of the apply that created the VM.
	// The module never updates it.
	TagLaunchID = "lablink:launch-id"
)

// Source says which inventory an Instance came from.
type Source string

const (
	// SourceEC2 marks an instance EC2's DescribeInstances listed.
	SourceEC2 Source = "ec2"
	// SourceDir marks a VM of the local module's inventory directory.
	SourceDir Source = "dir"
)

// Instance is one client VM the cloud holds.
type Instance struct {
	// ID is the cloud's id: the EC2 instance id, or the local module's
	// inventory id (the name of its file, without ".json").
	ID string
	// Name is the VM's name, {deployment}-vm-{Index+1}; "" when the
	// instance has none.
	Name string
	// Index is the VM's count index in the module (from 0): its address
	// is aws_instance.lablink_vm[Index] (terraform_data.lablink_vm[Index]
	// in the local module). It is -1 when unknown (an EC2 instance whose
	// Name is not {deployment}-vm-{n}).
	Index int
	// LaunchID is the launch that created the VM; "" when it was created
	// without one.
	LaunchID string
	// Deployment is the resource_prefix the VM was created with.
	Deployment string
	// State is EC2's instance state name (pending, running, stopping,
	// stopped); always "running" for SourceDir.
	State string
	// LaunchTime is when the VM was created: EC2's launch time, or the
	// modification time of the local module's file. Zero when unknown.
	LaunchTime time.Time
	// Source is the inventory that listed the VM.
	Source Source
	// Region is the region EC2 was asked in; "" for SourceDir.
	Region string
	// Path is the file of a SourceDir VM; "" for SourceEC2.
	Path string
}

// Lister lists the client VMs of one deployment that exist in the cloud.
//
// Instances returns them sorted by Index, then ID. On error it returns
// every instance it could read as well as the error, so a caller may
// report what it found; a non-nil error means the list may be incomplete,
// and a VM missing from it must not be taken as gone.
type Lister interface {
	Instances(ctx context.Context) ([]Instance, error)
}

// indexOf returns the count index of the VM named {deployment}-vm-{n}
// (n from 1, in decimal without leading zeros), or -1.
func indexOf(deployment, name string) int {
	rest, ok := strings.CutPrefix(name, deployment+"-vm-")
	if !ok || deployment == "" || rest == "" || rest[0] == '0' {
		return -1
	}
	for _, r := range rest {
		if r < '0' || r > '9' {
			return -1
		}
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return -1
	}
	return n - 1
}

// sortInstances orders instances by Index, then ID.
func sortInstances(in []Instance) {
	slices.SortFunc(in, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), strings.Compare(a.ID, b.ID))
	})
}

// Both inventories are Listers.
var (
	_ Lister = (*EC2)(nil)
	_ Lister = (*Dir)(nil)
)
