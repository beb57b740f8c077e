package plancheck_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/plantest"
	"github.com/lablink-go/lablink/plancheck"
)

// TestFixtureActions proves that the OpenTofu fixtures hold the actions
// their names promise, as the pinned OpenTofu (1.12.6) printed them.
func TestFixtureActions(t *testing.T) {
	vm := func(i string) string { return "terraform_data.lablink_vm[" + i + "]" }
	tests := []struct {
		name string
		want map[string][]string
	}{
		{"create", map[string][]string{vm("0"): {"no-op"}, vm("1"): {"no-op"}, vm("2"): {"create"}}},
		{"noop", map[string][]string{vm("0"): {"no-op"}, vm("1"): {"no-op"}}},
		{"update", map[string][]string{vm("0"): {"update"}, vm("1"): {"update"}}},
		{"update-tags", map[string][]string{vm("0"): {"update"}, vm("1"): {"update"}}},
		{"replace", map[string][]string{vm("0"): {"delete", "create"}, vm("1"): {"delete", "create"}}},
		{"replace-cbd", map[string][]string{vm("0"): {"create", "delete"}, vm("1"): {"create", "delete"}}},
		{"delete", map[string][]string{vm("0"): {"no-op"}, vm("1"): {"delete"}}},
		{"forget", map[string][]string{vm("0"): {"forget"}, vm("1"): {"forget"}}},
		{"forget-count", map[string][]string{vm("0"): {"no-op"}, vm("1"): {"forget"}}},
		{"forget-create", map[string][]string{vm("0"): {"forget", "create"}, vm("1"): {"forget", "create"}}},
		// create_before_destroy does not reorder a forget: OpenTofu still
		// plans forget, then create.
		{"forget-create-cbd", map[string][]string{vm("0"): {"forget", "create"}, vm("1"): {"forget", "create"}}},
		{"read", map[string][]string{"data.terraform_remote_state.lablink_vm": {"read"}, vm("0"): {"no-op"}, vm("1"): {"no-op"}, vm("2"): {"create"}}},
		{"module-delete", map[string][]string{"module.clients." + vm("0"): {"no-op"}, "module.clients." + vm("1"): {"delete"}}},
	}
	require.Len(t, tests, len(plantest.PlanCases()), "one row per generated fixture")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := plantest.LoadPlan(t, fixturePath(tt.name))
			assert.True(t, strings.HasPrefix(plan.TerraformVersion, "1.12.6"), "%s: made by OpenTofu %s", tt.name, plan.TerraformVersion)
			got := map[string][]string{}
			for _, c := range plancheck.Changes(plan) {
				got[c.Address] = c.Actions
			}
			assert.Equal(t, tt.want, got, tt.name)
		})
	}
}

func TestGuard(t *testing.T) {
	const (
		stops   = "a running VM may be stopped"
		destroy = "it would destroy a running VM"
	)
	tests := []struct {
		name string
		file string
		opts *plancheck.Options
		want []string
	}{
		// Plans made by OpenTofu 1.12.6.
		{name: "create passes", file: "plans/create"},
		{name: "no-op passes", file: "plans/noop"},
		{name: "read passes", file: "plans/read"},
		{
			name: "read of a selected data source passes", file: "plans/read",
			opts: &plancheck.Options{ClientVMs: []string{"terraform_data.lablink_vm", "terraform_remote_state.lablink_vm"}},
		},
		{
			name: "update in place", file: "plans/update",
			want: []string{
				"terraform_data.lablink_vm[0]: update in place (changes input.user_data, output) refused: " + stops,
				"terraform_data.lablink_vm[1]: update in place (changes input.user_data, output) refused: " + stops,
			},
		},
		{
			name: "update of user_data is not harmless even with tags declared", file: "plans/update",
			opts: &plancheck.Options{HarmlessUpdates: []string{"input.tags", "output"}},
			want: []string{
				"terraform_data.lablink_vm[0]: update in place (changes input.user_data) refused: " + stops,
				"terraform_data.lablink_vm[1]: update in place (changes input.user_data) refused: " + stops,
			},
		},
		{
			name: "tag update refused by default", file: "plans/update-tags",
			want: []string{
				"terraform_data.lablink_vm[0]: update in place (changes input.tags.Name, output) refused: " + stops,
				"terraform_data.lablink_vm[1]: update in place (changes input.tags.Name, output) refused: " + stops,
			},
		},
		{
			// terraform_data's output becomes unknown until apply, so it
			// must be declared too.
			name: "tag update with output unknown", file: "plans/update-tags",
			opts: &plancheck.Options{HarmlessUpdates: []string{"input.tags"}},
			want: []string{
				"terraform_data.lablink_vm[0]: update in place (changes output) refused: " + stops,
				"terraform_data.lablink_vm[1]: update in place (changes output) refused: " + stops,
			},
		},
		{
			name: "declared tag update passes", file: "plans/update-tags",
			opts: &plancheck.Options{HarmlessUpdates: []string{"input.tags", "output"}},
		},
		{
			name: "wildcard path", file: "plans/update-tags",
			opts: &plancheck.Options{HarmlessUpdates: []string{"input.*.Name", "output"}},
		},
		{
			name: "replace", file: "plans/replace",
			want: []string{
				"terraform_data.lablink_vm[0]: replace (delete, then create) refused: " + destroy,
				"terraform_data.lablink_vm[1]: replace (delete, then create) refused: " + destroy,
			},
		},
		{
			name: "replace create before destroy", file: "plans/replace-cbd",
			want: []string{
				"terraform_data.lablink_vm[0]: replace (create, then delete) refused: " + destroy,
				"terraform_data.lablink_vm[1]: replace (create, then delete) refused: " + destroy,
			},
		},
		{
			name: "replace is refused whatever is declared harmless", file: "plans/replace",
			opts: &plancheck.Options{HarmlessUpdates: []string{"*"}},
			want: []string{
				"terraform_data.lablink_vm[0]: replace (delete, then create) refused: " + destroy,
				"terraform_data.lablink_vm[1]: replace (delete, then create) refused: " + destroy,
			},
		},
		{
			name: "delete", file: "plans/delete",
			want: []string{"terraform_data.lablink_vm[1]: delete refused: " + destroy},
		},
		{
			name: "delete in a module", file: "plans/module-delete",
			want: []string{"module.clients.terraform_data.lablink_vm[1]: delete refused: " + destroy},
		},
		{
			name: "delete of a resource not named a client VM passes", file: "plans/delete",
			opts: &plancheck.Options{ClientVMs: []string{"aws_instance.lablink_vm"}},
		},
		{
			name: "forget by removed block", file: "plans/forget",
			want: []string{
				"terraform_data.lablink_vm[0]: forget refused: the VM would keep running outside the state",
				"terraform_data.lablink_vm[1]: forget refused: the VM would keep running outside the state",
			},
		},
		{
			name: "forget by lifecycle destroy false", file: "plans/forget-count",
			want: []string{"terraform_data.lablink_vm[1]: forget refused: the VM would keep running outside the state"},
		},
		{
			name: "forget and create", file: "plans/forget-create",
			want: []string{
				"terraform_data.lablink_vm[0]: forget and create refused: the VM would keep running outside the state next to its replacement",
				"terraform_data.lablink_vm[1]: forget and create refused: the VM would keep running outside the state next to its replacement",
			},
		},
		{
			name: "forget and create before destroy", file: "plans/forget-create-cbd",
			want: []string{
				"terraform_data.lablink_vm[0]: forget and create refused: the VM would keep running outside the state next to its replacement",
				"terraform_data.lablink_vm[1]: forget and create refused: the VM would keep running outside the state next to its replacement",
			},
		},

		// Hand-written plans shaped like the AWS module.
		{
			name: "aws user_data update", file: "guard/aws-update-user-data",
			opts: &plancheck.Options{HarmlessUpdates: []string{"tags", "tags_all"}},
			want: []string{"aws_instance.lablink_vm[2]: update in place (changes user_data_base64) refused: " + stops},
		},
		{
			name: "aws tag update refused by default", file: "guard/aws-update-tags",
			want: []string{"aws_instance.lablink_vm[0]: update in place (changes tags.Name, tags_all.Name) refused: " + stops},
		},
		{
			name: "aws tag update declared", file: "guard/aws-update-tags",
			opts: &plancheck.Options{HarmlessUpdates: []string{"tags", "tags_all"}},
		},
		{
			name: "aws tag update half declared", file: "guard/aws-update-tags",
			opts: &plancheck.Options{HarmlessUpdates: []string{"tags.Name"}},
			want: []string{"aws_instance.lablink_vm[0]: update in place (changes tags_all.Name) refused: " + stops},
		},
		{
			name: "aws tags_all unknown until apply", file: "guard/aws-update-tags-unknown",
			opts: &plancheck.Options{HarmlessUpdates: []string{"tags", "tags_all.Name"}},
			want: []string{"aws_instance.lablink_vm[0]: update in place (changes tags_all) refused: " + stops},
		},
		{
			name: "aws tags_all unknown declared", file: "guard/aws-update-tags-unknown",
			opts: &plancheck.Options{HarmlessUpdates: []string{"tags", "tags_all"}},
		},
		{
			name: "aws tags and volume", file: "guard/aws-update-tags-and-volume",
			opts: &plancheck.Options{HarmlessUpdates: []string{"tags", "tags_all"}},
			want: []string{"aws_instance.lablink_vm[1]: update in place (changes root_block_device.0.volume_size) refused: " + stops},
		},
		{
			name: "aws volume declared by index wildcard", file: "guard/aws-update-tags-and-volume",
			opts: &plancheck.Options{HarmlessUpdates: []string{"tags", "tags_all", "root_block_device.*.volume_size"}},
		},
		{
			name: "aws update with nothing visible", file: "guard/aws-update-nothing-visible",
			opts: &plancheck.Options{HarmlessUpdates: []string{"tags"}},
			want: []string{"aws_instance.lablink_vm[0]: update in place (no attribute shown to change) refused: " + stops},
		},
		{
			name: "unknown action", file: "guard/aws-unknown-action",
			want: []string{`aws_instance.lablink_vm[0]: actions "frobnicate" refused: only create, no-op and read are known to be harmless`},
		},
		{
			name: "no change object", file: "guard/aws-no-change",
			want: []string{"aws_instance.lablink_vm[0]: no actions refused: only create, no-op and read are known to be harmless"},
		},
		{
			name: "deposed object deleted", file: "guard/aws-deposed-delete",
			want: []string{"aws_instance.lablink_vm[0] (deposed 3c1a7f2e): delete refused: " + destroy},
		},
		{name: "other resources and a VM data source", file: "guard/aws-other-resources"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := plantest.LoadPlan(t, "testdata/"+tt.file+".json")
			assert.Equal(t, tt.want, violations(t, tt.name, plan, tt.opts), tt.name)
		})
	}
}
