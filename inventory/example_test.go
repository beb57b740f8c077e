package inventory_test

import (
	"fmt"
	"time"

	"github.com/lablink-go/lablink/inventory"
)

// An apply was killed after EC2 had created the third VM and before
// OpenTofu saved it: EC2 lists three instances of the deployment (what
// inventory.EC2 answers), the state holds two.
func ExampleOrphans() {
	const prefix = "sleap-lablink-client-prod"
	vm := func(id string, index int, launch string) inventory.Instance {
		return inventory.Instance{
			ID: id, Name: fmt.Sprintf("%s-vm-%d", prefix, index+1), Index: index, LaunchID: launch,
			Deployment: prefix, State: "running", Source: inventory.SourceEC2, Region: "us-west-2",
			LaunchTime: time.Date(2026, 5, 1, 12, index, 0, 0, time.UTC),
		}
	}
	cloud := []inventory.Instance{
		vm("i-0a1b2c3d4e5f60001", 0, "20260501T115900Z-1a2b3c4d"),
		vm("i-0a1b2c3d4e5f60002", 1, "20260501T115900Z-1a2b3c4d"),
		vm("i-0a1b2c3d4e5f60003", 2, "20260501T120100Z-5e6f7a8b"),
	}
	state := []inventory.Tracked{
		{Index: 0, ID: "i-0a1b2c3d4e5f60001", LaunchID: "20260501T115900Z-1a2b3c4d"},
		{Index: 1, ID: "i-0a1b2c3d4e5f60002", LaunchID: "20260501T115900Z-1a2b3c4d"},
	}
	opts := &inventory.Options{Dir: "/srv/lablink/client", VarFile: "terraform.runtime.tfvars"}
	for _, o := range inventory.Orphans(cloud, state, opts) {
		fmt.Printf("%s (%s, %s, created by launch %s) is not in the state\n", o.Name, o.ID, o.State, o.LaunchID)
		fmt.Println("  keep it:   ", o.Import)
		fmt.Println("  or end it: ", o.Terminate)
	}
	// Output:
	// sleap-lablink-client-prod-vm-3 (i-0a1b2c3d4e5f60003, running, created by launch 20260501T120100Z-5e6f7a8b) is not in the state
	//   keep it:    tofu -chdir=/srv/lablink/client import -var-file=terraform.runtime.tfvars 'aws_instance.lablink_vm[2]' i-0a1b2c3d4e5f60003
	//   or end it:  aws ec2 terminate-instances --region us-west-2 --instance-ids i-0a1b2c3d4e5f60003
}
