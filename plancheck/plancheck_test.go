package plancheck_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	assert.True(t, plancheck.NeedsValues(plancheck.Change{Type: "x"}, opts), "invalid options read everything")
}

func TestCheckPlanNil(t *testing.T) {
	assert.Error(t, plancheck.CheckPlan(nil, nil))
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
		refusedReasons(plancheck.Check([]plancheck.Change{vm(json.Number("100"), 200.0)}, opts)))
}

// cheapChanges decodes the plan JSON as a cheaper reader would (issue 13):
// the header of every change, and the values only where NeedsValues asks
// for them.
func cheapChanges(b []byte, opts *plancheck.Options) ([]plancheck.Change, error) {
	var raw struct {
		ResourceChanges []struct {
			Address, Mode, Type, Name, Deposed string
			Change                             *struct {
				Actions       []string
				Before, After json.RawMessage
				AfterUnknown  json.RawMessage `json:"after_unknown"`
			}
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	var out []plancheck.Change
	for _, rc := range raw.ResourceChanges {
		c := plancheck.Change{Address: rc.Address, Deposed: rc.Deposed, Mode: rc.Mode, Type: rc.Type, Name: rc.Name}
		if rc.Change != nil {
			c.Actions = rc.Change.Actions
			if plancheck.NeedsValues(c, opts) {
				for _, v := range []struct {
					raw json.RawMessage
					dst *any
				}{{rc.Change.Before, &c.Before}, {rc.Change.After, &c.After}, {rc.Change.AfterUnknown, &c.AfterUnknown}} {
					if len(v.raw) > 0 {
						if err := json.Unmarshal(v.raw, v.dst); err != nil {
							return nil, err
						}
					}
				}
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// TestCheaperSource: a reader that skips the values NeedsValues does not
// ask for gets the verdict of the full plan, on every fixture.
func TestCheaperSource(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	optsList := []*plancheck.Options{nil, {HarmlessUpdates: []string{"tags", "tags_all", "input.tags", "output"}}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		plan := loadPlan(t, f)
		for i, opts := range optsList {
			name := fmt.Sprintf("%s/opts%d", f, i)
			cheap, err := cheapChanges(b, opts)
			require.NoError(t, err, name)
			full := plancheck.Changes(plan)
			require.Len(t, cheap, len(full), name)
			for j := range full {
				assert.Equal(t, full[j].Address, cheap[j].Address, name)
				assert.Equal(t, full[j].Actions, cheap[j].Actions, name)
			}
			want, got := plancheck.CheckPlan(plan, opts), plancheck.Check(cheap, opts)
			assert.Equal(t, errors.Is(want, plancheck.ErrRefused), errors.Is(got, plancheck.ErrRefused), name)
			assert.Equal(t, refusedReasons(want), refusedReasons(got), name)
		}
	}
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

func TestNeedsValues(t *testing.T) {
	tests := []struct {
		c    plancheck.Change
		want bool
	}{
		{plancheck.Change{Type: "aws_instance", Name: "lablink_vm", Actions: []string{"update"}}, true},
		{plancheck.Change{Type: "aws_instance", Name: "lablink_vm", Actions: []string{"create"}}, false},
		{plancheck.Change{Type: "aws_instance", Name: "lablink_vm", Actions: []string{"delete", "create"}}, false},
		{plancheck.Change{Type: "aws_instance", Name: "other", Actions: []string{"update"}}, false},
		{plancheck.Change{Type: "aws_security_group", Name: "x", Actions: []string{"create"}}, true},
		{plancheck.Change{Type: "aws_security_group", Name: "x", Actions: []string{"delete"}}, false},
		{plancheck.Change{Type: "aws_security_group", Name: "x", Actions: []string{"no-op"}}, false},
		{plancheck.Change{Type: "aws_security_group", Name: "x", Mode: "data", Actions: []string{"read"}}, false},
		{plancheck.Change{Type: "aws_vpc_security_group_ingress_rule", Name: "x", Actions: []string{"frobnicate"}}, true},
		{plancheck.Change{Type: "aws_security_group_rule", Name: "x"}, true},
		{plancheck.Change{Type: "aws_iam_role", Name: "x", Actions: []string{"update"}}, false},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s.%s %v %s", tt.c.Type, tt.c.Name, tt.c.Actions, tt.c.Mode)
		assert.Equal(t, tt.want, plancheck.NeedsValues(tt.c, nil), name)
	}
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
	assert.Equal(t, []string{`aws_instance.lablink_vm[0]: actions "delete,create" refused: only create, no-op and read are known to be harmless`}, refusedReasons(err))
}
