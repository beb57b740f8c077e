package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// TestStatusInventoryDown: an inventory that could not be read is in the
// document, and the text says orphans are unknown rather than none.
func TestStatusInventoryDown(t *testing.T) {
	doc := statusDoc{Workdir: "/w", VMs: []vmDoc{}, Orphans: []orphanDoc{}}
	fillStatus(&doc, launcher.Status{InventoryError: errors.New("inventory: describe instances: ExpiredToken")}, "/w/t.tfvars", "us-west-2")
	assert.Equal(t, "inventory: describe instances: ExpiredToken", doc.InventoryError)
	var out strings.Builder
	require.NoError(t, printStatus(&out, doc))
	assert.Contains(t, out.String(), "orphans:        unknown (the cloud's inventory could not be read)\n")
	assert.Equal(t, "the cloud's inventory could not be read, so VMs the cloud holds and the state does not are unknown: "+
		"inventory: describe instances: ExpiredToken", inventoryWarning(doc.InventoryError))

	doc = statusDoc{Workdir: "/w", VMs: []vmDoc{}, Orphans: []orphanDoc{}}
	fillStatus(&doc, launcher.Status{}, "/w/t.tfvars", "us-west-2")
	assert.Empty(t, doc.InventoryError)
	out.Reset()
	require.NoError(t, printStatus(&out, doc))
	assert.Contains(t, out.String(), "orphans:        0\n")
}
