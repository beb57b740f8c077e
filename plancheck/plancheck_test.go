package plancheck_test

import (
	"encoding/json"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/plantest"
	"github.com/lablink-go/lablink/plancheck"
)

func TestRefusedError(t *testing.T) {
	err := plancheck.Check([]plancheck.Change{
		{Address: "aws_instance.lablink_vm[0]", Type: "aws_instance", Name: "lablink_vm", Actions: []string{"delete"}},
		{Address: "module.m.aws_instance.lablink_vm[\"a\"]", Type: "aws_instance", Name: "lablink_vm", Actions: []string{"forget"}},
	}, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, plancheck.ErrRefused)
	var re *plancheck.RefusedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, []plancheck.Violation{
		{Address: "aws_instance.lablink_vm[0]", Actions: []string{"delete"}, Reason: "delete refused: it would destroy a running VM"},
		{Address: "module.m.aws_instance.lablink_vm[\"a\"]", Actions: []string{"forget"}, Reason: "forget refused: the VM would keep running outside the state"},
	}, re.Violations)
	assert.Equal(t, `plan refused: aws_instance.lablink_vm[0]: delete refused: it would destroy a running VM; `+
		`module.m.aws_instance.lablink_vm["a"]: forget refused: the VM would keep running outside the state`, err.Error())
}

func TestOptionsInvalid(t *testing.T) {
	opts := &plancheck.Options{
		ClientVMs:       []string{"lablink_vm", "aws_instance.lablink_vm[0]"},
		HarmlessUpdates: []string{"tags..Name"},
		Ports:           []int{70000},
		PublicCIDRs:     []string{"everyone"},
	}
	err := plancheck.Check(nil, opts)
	require.Error(t, err)
	assert.NotErrorIs(t, err, plancheck.ErrRefused, "a caller's mistake is not a verdict on the plan")
	for _, s := range []string{`client VM "lablink_vm"`, `client VM "aws_instance.lablink_vm[0]"`, `harmless update "tags..Name"`, "port 70000", `"everyone"`} {
		assert.Contains(t, err.Error(), s)
	}
}

func TestNil(t *testing.T) {
	assert.Nil(t, plancheck.Changes(nil))
	assert.NoError(t, plancheck.Check(nil, nil), "a plan without changes passes")
}

// TestNumbers: values decoded with json.Number (tfjson's UseJSONNumber)
// or built by hand compare as the float64 that encoding/json gives.
func TestNumbers(t *testing.T) {
	vm := func(before, after any) plancheck.Change {
		return plancheck.Change{
			Address: "aws_instance.lablink_vm[0]", Type: "aws_instance", Name: "lablink_vm", Actions: []string{"update"},
			Before: map[string]any{"size": before, "tags": map[string]any{"Name": "a"}},
			After:  map[string]any{"size": after, "tags": map[string]any{"Name": "b"}},
		}
	}
	opts := &plancheck.Options{HarmlessUpdates: []string{"tags"}}
	for _, tt := range []struct {
		name          string
		before, after any
	}{
		{"float64", 100.0, 100.0},
		{"json.Number", json.Number("100"), json.Number("100")},
		{"mixed", json.Number("100"), 100.0},
		{"int", 100, 100.0},
	} {
		assert.NoError(t, plancheck.Check([]plancheck.Change{vm(tt.before, tt.after)}, opts), tt.name)
	}
	assert.Equal(t, []string{"aws_instance.lablink_vm[0]: update in place (changes size) refused: a running VM may be stopped"},
		plantest.Reasons(plancheck.Check([]plancheck.Change{vm(json.Number("100"), 200.0)}, opts)))
}

// TestMessagesHoldNoValues: messages name paths, never values, since a
// plan holds the VMs' tokens.
func TestMessagesHoldNoValues(t *testing.T) {
	const secret = "canary-3f9c1b"
	err := plancheck.Check([]plancheck.Change{{
		Address: "aws_instance.lablink_vm[0]", Type: "aws_instance", Name: "lablink_vm", Actions: []string{"update"},
		Before: map[string]any{"user_data_base64": "old", "tags": map[string]any{"Name": secret}},
		After:  map[string]any{"user_data_base64": secret, "tags": map[string]any{"Name": "b"}},
	}, {
		Address: "aws_security_group_rule.x", Type: "aws_security_group_rule", Name: "x", Actions: []string{"create"},
		After: map[string]any{"type": "ingress", "protocol": "tcp", "from_port": 6080.0, "to_port": 6080.0,
			"cidr_blocks": []any{secret}, "ipv6_cidr_blocks": nil},
	}}, nil)
	require.ErrorIs(t, err, plancheck.ErrRefused)
	assert.NotContains(t, err.Error(), secret)
	assert.Contains(t, err.Error(), "changes tags.Name, user_data_base64")
	assert.Contains(t, err.Error(), "cidr_blocks holds a value that is not a CIDR")
}

func TestChangesAdapter(t *testing.T) {
	plan := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		nil,
		{Address: "aws_instance.lablink_vm[0]", Mode: tfjson.ManagedResourceMode, Type: "aws_instance", Name: "lablink_vm", DeposedKey: "k",
			Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionForget, tfjson.ActionCreate}, Before: map[string]any{"a": 1.0}, AfterUnknown: true}},
		{Address: "terraform_data.lablink_vm[1]", Type: "terraform_data", Name: "lablink_vm"},
	}}
	assert.Equal(t, []plancheck.Change{
		{Address: "aws_instance.lablink_vm[0]", Deposed: "k", Mode: "managed", Type: "aws_instance", Name: "lablink_vm",
			Actions: []string{"forget", "create"}, Before: map[string]any{"a": 1.0}, AfterUnknown: true},
		{Address: "terraform_data.lablink_vm[1]", Type: "terraform_data", Name: "lablink_vm"},
	}, plancheck.Changes(plan))
}

func TestActionsWithComma(t *testing.T) {
	err := plancheck.Check([]plancheck.Change{
		{Address: "aws_instance.lablink_vm[0]", Type: "aws_instance", Name: "lablink_vm", Actions: []string{"delete,create"}},
	}, nil)
	assert.Equal(t, []string{`aws_instance.lablink_vm[0]: actions "delete,create" refused: only create, no-op and read are known to be harmless`}, plantest.Reasons(err))
}
