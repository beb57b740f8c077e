package inventory_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/lablink-go/lablink/inventory"
)

func ec2VM(id string, index int, launch string, at int) inventory.Instance {
	name := "renamed"
	if index >= 0 {
		name = deployment + "-vm-" + string(rune('1'+index))
	}
	return inventory.Instance{ID: id, Name: name, Index: index, LaunchID: launch, Deployment: deployment, State: "running",
		LaunchTime: time.Date(2026, 5, 1, 12, 0, at, 0, time.UTC), Source: inventory.SourceEC2, Region: "us-west-2"}
}

func dirVM(id string, index int, launch, path string) inventory.Instance {
	return inventory.Instance{ID: id, Name: deployment + "-vm-" + string(rune('1'+index)), Index: index, LaunchID: launch,
		Deployment: deployment, State: "running", Source: inventory.SourceDir, Path: path}
}

func held(vms ...inventory.Instance) []inventory.Tracked {
	var out []inventory.Tracked
	for _, v := range vms {
		out = append(out, inventory.Tracked{Index: v.Index, ID: v.ID, LaunchID: v.LaunchID})
	}
	return out
}

func TestOrphans(t *testing.T) {
	a0, a1, a2 := ec2VM("i-0a0", 0, "l1", 0), ec2VM("i-0a1", 1, "l1", 1), ec2VM("i-0a2", 2, "l1", 2)
	lost3 := ec2VM("i-0b3", 3, "l2", 3)
	lost3late := ec2VM("i-0c3", 3, "l3", 9)
	now3 := ec2VM("i-0d3", 3, "l3", 10)
	odd := ec2VM("i-0e0", -1, "", 4)
	noRegion := lost3
	noRegion.Region = ""
	d0, d1 := dirVM("uuid-0", 0, "l1", "/inv/uuid-0.json"), dirVM("uuid-1", 1, "l2", "/var/it's here/uuid-1.json")
	terminate := func(id string) string {
		return "aws ec2 terminate-instances --region us-west-2 --instance-ids " + id
	}

	tests := []struct {
		name  string
		cloud []inventory.Instance
		state []inventory.Tracked
		opts  *inventory.Options
		want  []inventory.Orphan
	}{
		{name: "the state holds every VM", cloud: []inventory.Instance{a0, a1, a2}, state: held(a0, a1, a2)},
		{name: "an empty cloud", state: held(a0)},
		{
			name: "a VM the killed apply created", cloud: []inventory.Instance{a0, a1, a2, lost3}, state: held(a0, a1, a2),
			want: []inventory.Orphan{{Instance: lost3, Address: "aws_instance.lablink_vm[3]",
				Import: "tofu import 'aws_instance.lablink_vm[3]' i-0b3", Terminate: terminate("i-0b3")}},
		},
		{
			name: "the next launch created the index again", cloud: []inventory.Instance{a0, now3, lost3}, state: held(a0, now3),
			want: []inventory.Orphan{{Instance: lost3, Address: "aws_instance.lablink_vm[3]",
				NoImport: "the state holds another VM at aws_instance.lablink_vm[3]", Terminate: terminate("i-0b3")}},
		},
		{
			name: "two orphans of one index: the first launched may be imported", cloud: []inventory.Instance{lost3late, lost3}, state: held(a0),
			want: []inventory.Orphan{
				{Instance: lost3, Address: "aws_instance.lablink_vm[3]", Import: "tofu import 'aws_instance.lablink_vm[3]' i-0b3", Terminate: terminate("i-0b3")},
				{Instance: lost3late, Address: "aws_instance.lablink_vm[3]",
					NoImport: "orphan i-0b3, launched first, takes aws_instance.lablink_vm[3]", Terminate: terminate("i-0c3")},
			},
		},
		{
			name: "a Name the module never writes", cloud: []inventory.Instance{odd},
			want: []inventory.Orphan{{Instance: odd, NoImport: `its Name "renamed" is not ` + deployment + `-vm-{n}, so it has no address in the state`,
				Terminate: terminate("i-0e0")}},
		},
		{
			name: "the commands of a working directory", cloud: []inventory.Instance{noRegion},
			opts: &inventory.Options{Tofu: "/opt/tofu bin/tofu", Dir: "/srv/lab's dir", VarFile: "terraform.runtime.tfvars", Resource: "aws_instance.vm"},
			want: []inventory.Orphan{{Instance: noRegion, Address: "aws_instance.vm[3]",
				Import:    `'/opt/tofu bin/tofu' '-chdir=/srv/lab'\''s dir' import -var-file=terraform.runtime.tfvars 'aws_instance.vm[3]' i-0b3`,
				Terminate: "aws ec2 terminate-instances --instance-ids i-0b3"}},
		},
		{
			name: "local inventory: held by index and launch id", cloud: []inventory.Instance{d0, d1}, state: []inventory.Tracked{{Index: 0, ID: "tf-0", LaunchID: "l1"}},
			opts: &inventory.Options{Resource: "terraform_data.lablink_vm"},
			want: []inventory.Orphan{{Instance: d1, Address: "terraform_data.lablink_vm[1]",
				NoImport:  "a terraform_data imports without the input it was created with, so OpenTofu would replace it; remove its file",
				Terminate: `rm -- '/var/it'\''s here/uuid-1.json'`}},
		},
		{
			name: "local inventory: held by its id", cloud: []inventory.Instance{d0}, state: []inventory.Tracked{{Index: 0, ID: "uuid-0"}},
		},
		{
			name: "local inventory: another launch at the index", cloud: []inventory.Instance{d0}, state: []inventory.Tracked{{Index: 0, ID: "tf-0", LaunchID: "l9"}},
			want: []inventory.Orphan{{Instance: d0, Address: "terraform_data.lablink_vm[0]",
				NoImport:  "a terraform_data imports without the input it was created with, so OpenTofu would replace it; remove its file",
				Terminate: "rm -- /inv/uuid-0.json"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, inventory.Orphans(tt.cloud, tt.state, tt.opts), tt.name)
		})
	}
}

// TestHolds: a VM of the state is an EC2 instance by its id only, and a
// VM of the local inventory by its id or its index and launch.
func TestHolds(t *testing.T) {
	vm := inventory.Tracked{Index: 1, ID: "i-0a1", LaunchID: "l1"}
	tests := []struct {
		name string
		in   inventory.Instance
		want bool
	}{
		{"ec2, same id", ec2VM("i-0a1", 1, "l1", 0), true},
		{"ec2, same id, another index", ec2VM("i-0a1", 2, "l2", 0), true},
		{"ec2, same index and launch, another id", ec2VM("i-0b1", 1, "l1", 0), false},
		{"dir, same id", dirVM("i-0a1", 1, "l9", "/inv/i-0a1.json"), true},
		{"dir, same index and launch, another id", dirVM("d-1", 1, "l1", "/inv/d-1.json"), true},
		{"dir, same index, another launch", dirVM("d-1", 1, "l2", "/inv/d-1.json"), false},
		{"dir, same launch, another index", dirVM("d-2", 2, "l1", "/inv/d-2.json"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, vm.Holds(tc.in))
		})
	}
	noLaunch := inventory.Tracked{Index: 1, ID: "x"}
	assert.False(t, noLaunch.Holds(dirVM("d-1", 1, "", "/inv/d-1.json")), "a VM of no launch is matched by its id only")
}
