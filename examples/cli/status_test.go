package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lablink-go/lablink/launcher"
)

// TestOrphanDocs: an orphaned EC2 instance gets the command that
// terminates it and, when its name gives its index, the one that imports
// it there; a VM of another kind (the local module's) gets none.
func TestOrphanDocs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		orphan launcher.Orphan
		want   orphanDoc
	}{
		{"ec2 with its index", launcher.Orphan{Instance: launcher.Instance{ID: "i-0123456789abcdef0", Name: "sleap-lablink-client-prod-vm-3", LaunchID: "l1"}},
			orphanDoc{ID: "i-0123456789abcdef0", Name: "sleap-lablink-client-prod-vm-3", LaunchID: "l1",
				Import:    "tofu -chdir=/w import -var-file=terraform.runtime.tfvars 'aws_instance.lablink_vm[2]' i-0123456789abcdef0",
				Terminate: "aws ec2 terminate-instances --region us-west-2 --instance-ids i-0123456789abcdef0"}},
		{"ec2 without an index", launcher.Orphan{Instance: launcher.Instance{ID: "i-0123456789abcdef0", Name: "renamed"}},
			orphanDoc{ID: "i-0123456789abcdef0", Name: "renamed",
				Terminate: "aws ec2 terminate-instances --region us-west-2 --instance-ids i-0123456789abcdef0"}},
		{"not ec2", launcher.Orphan{Instance: launcher.Instance{ID: "prod-l1-0", Name: "sleap-lablink-client-prod-vm-1"}},
			orphanDoc{ID: "prod-l1-0", Name: "sleap-lablink-client-prod-vm-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, []orphanDoc{tc.want}, orphanDocs([]launcher.Orphan{tc.orphan}, "/w", "us-west-2"))
		})
	}
	assert.Empty(t, orphanDocs(nil, "/w", "us-west-2"))
}
