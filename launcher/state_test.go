package launcher

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lablink-go/lablink/plancheck"
)

// createdTail infers the prior VMs of a plan read from its event stream
// only when the creates are the tail [n, total) of one counted resource;
// every other shape is left to the saved plan.
func TestCreatedTail(t *testing.T) {
	vm := func(addr string) plancheck.Change {
		typ, name := "terraform_data", "lablink_vm"
		if len(addr) > 12 && addr[:12] == "aws_instance" {
			typ = "aws_instance"
		}
		return plancheck.Change{Address: addr, Mode: "managed", Type: typ, Name: name, Actions: []string{"create"}}
	}
	other := plancheck.Change{Address: "terraform_data.other[0]", Mode: "managed", Type: "terraform_data", Name: "other", Actions: []string{"create"}}
	read := plancheck.Change{Address: "data.terraform_data.lablink_vm", Mode: "data", Type: "terraform_data", Name: "lablink_vm", Actions: []string{"read"}}
	child := plancheck.Change{Address: "module.m.terraform_data.lablink_vm[0]", Mode: "managed", Type: "terraform_data", Name: "lablink_vm", Actions: []string{"create"}}
	for _, tt := range []struct {
		name    string
		changes []plancheck.Change
		total   int
		prior   int
		ok      bool
	}{
		{"nothing: the state holds total", nil, 3, 3, true},
		{"all new", []plancheck.Change{vm("terraform_data.lablink_vm[0]"), vm("terraform_data.lablink_vm[1]")}, 2, 0, true},
		{"the tail", []plancheck.Change{vm("terraform_data.lablink_vm[4]"), vm("terraform_data.lablink_vm[3]")}, 5, 3, true},
		{"other resources, reads and child modules do not count", []plancheck.Change{other, read, child, vm("terraform_data.lablink_vm[2]")}, 3, 2, true},
		{"aws_instance", []plancheck.Change{vm("aws_instance.lablink_vm[1]")}, 2, 1, true},
		{"a gap (a VM gone out of band)", []plancheck.Change{vm("terraform_data.lablink_vm[0]"), vm("terraform_data.lablink_vm[2]")}, 3, 0, false},
		{"not up to total", []plancheck.Change{vm("terraform_data.lablink_vm[1]")}, 3, 0, false},
		{"beyond total", []plancheck.Change{vm("terraform_data.lablink_vm[3]")}, 3, 0, false},
		{"negative", []plancheck.Change{vm("terraform_data.lablink_vm[-1]")}, 1, 0, false},
		{"a key", []plancheck.Change{vm(`terraform_data.lablink_vm["a"]`)}, 1, 0, false},
		{"no index", []plancheck.Change{vm("terraform_data.lablink_vm")}, 1, 0, false},
		{"a leading zero", []plancheck.Change{vm("terraform_data.lablink_vm[01]")}, 2, 0, false},
		{"twice", []plancheck.Change{vm("terraform_data.lablink_vm[1]"), vm("terraform_data.lablink_vm[1]")}, 2, 0, false},
		{"two types", []plancheck.Change{vm("terraform_data.lablink_vm[1]"), vm("aws_instance.lablink_vm[2]")}, 3, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := stateReader{vmResource: "lablink_vm"}
			prior, ok := s.createdTail(&plancheck.Plan{Changes: tt.changes}, tt.total)
			assert.Equal(t, tt.ok, ok, "proven")
			if tt.ok {
				assert.Equal(t, tt.prior, prior, "prior VMs")
				assert.Equal(t, tt.prior, s.prior(&savedPlan{plan: &plancheck.Plan{Changes: tt.changes}, fromEvents: true}, tt.total), "prior of the saved plan read from events")
			}
		})
	}
}
