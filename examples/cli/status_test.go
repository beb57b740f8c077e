package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lablink-go/lablink/inventory"
	"github.com/lablink-go/lablink/launcher"
)

// TestOrphanDocs: an orphan is described with the commands the inventory
// gives for it.
func TestOrphanDocs(t *testing.T) {
	held := []inventory.Instance{{ID: "i-0123456789abcdef0", Name: "sleap-lablink-client-prod-vm-3", Index: 2,
		LaunchID: "l1", Source: inventory.SourceEC2, Region: "us-west-2"}}
	orphans := inventory.Orphans(held, nil, &inventory.Options{Dir: "/w", VarFile: "terraform.runtime.tfvars"})
	got := orphanDocs(orphans)
	assert.Equal(t, []orphanDoc{{ID: "i-0123456789abcdef0", Name: "sleap-lablink-client-prod-vm-3", LaunchID: "l1",
		Import: orphans[0].Import, Terminate: orphans[0].Terminate}}, got)
	assert.Contains(t, got[0].Import, "'aws_instance.lablink_vm[2]' i-0123456789abcdef0")
	assert.Contains(t, got[0].Terminate, "aws ec2 terminate-instances --region us-west-2 --instance-ids i-0123456789abcdef0")
	assert.Empty(t, orphanDocs([]launcher.Orphan(nil)))
}
