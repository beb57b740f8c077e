package planread_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/planread"
	"github.com/lablink-go/lablink/internal/plantest"
	"github.com/lablink-go/lablink/plancheck"
)

// readOptions are the Options every equivalence test reads with: the
// defaults, and harmless paths that make updates of the fixtures pass.
var readOptions = []*plancheck.Options{
	nil,
	{HarmlessUpdates: []string{"tags", "tags_all", "input.tags", "output"}},
	{HarmlessUpdates: []string{"tags", "*.0"}, ClientVMs: []string{"terraform_data.lablink_vm", "aws_security_group.lablink_client"}},
}

// wantSummary is the summary of a plan decoded by terraform-json, counted
// with tfjson.Actions' predicates, which Read's Summary must equal. A null
// resource change, on which the launcher's loop would dereference nil,
// counts nowhere.
func wantSummary(plan *tfjson.Plan) audit.PlanSummary {
	var s audit.PlanSummary
	for _, rc := range plan.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Mode != tfjson.ManagedResourceMode {
			continue
		}
		a := rc.Change.Actions
		forget := slices.Contains(a, tfjson.Action("forget"))
		switch {
		case a.Replace() || forget && slices.Contains(a, tfjson.ActionCreate):
			s.Replace++
		case a.Create():
			s.Add++
		case a.Update():
			s.Change++
		case a.Delete() || forget:
			s.Destroy++
		}
	}
	return s
}

// wantPrior lists the prior state's root-module resources of a plan
// decoded by terraform-json.
func wantPrior(plan *tfjson.Plan) []planread.Resource {
	st := plan.PriorState
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return nil
	}
	var out []planread.Resource
	for _, r := range st.Values.RootModule.Resources {
		if r != nil {
			out = append(out, planread.Resource{Address: r.Address, Mode: string(r.Mode), Type: r.Type, Name: r.Name})
		}
	}
	return out
}

// priorVMs counts client VMs in prior as the launcher's stateReader.in
// counts them in a decoded plan's prior state: managed resources named
// name in the root module.
func priorVMs(prior []planread.Resource, name string) int {
	n := 0
	for _, r := range prior {
		if r.Mode == "managed" && r.Name == name {
			n++
		}
	}
	return n
}

// errString is err's message, "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// compareRead fails t unless the plan Read made from b equals, for the
// checks, the summary and the prior state, the plan terraform-json
// decoded from b.
func compareRead(t testing.TB, name string, b []byte, full *tfjson.Plan, opts *plancheck.Options) {
	t.Helper()
	got, err := planread.Read(bytes.NewReader(b), opts)
	require.NoError(t, err, "%s: terraform-json reads it", name)

	want := plancheck.Check(plancheck.Changes(full), opts)
	gotErr := got.Check()
	require.Equal(t, errString(want), errString(gotErr), "%s: verdict", name)
	require.Equal(t, errors.Is(want, plancheck.ErrRefused), errors.Is(gotErr, plancheck.ErrRefused), name)
	require.Equal(t, plantest.Reasons(want), plantest.Reasons(plancheck.Check(got.Changes, opts)), "%s: Check of Changes", name)
	require.Equal(t, wantSummary(full), got.Summary, "%s: summary", name)
	require.Equal(t, wantPrior(full), got.Prior, "%s: prior resources", name)
	require.Equal(t, full.FormatVersion, got.FormatVersion, name)
	require.Equal(t, full.TerraformVersion, got.TerraformVersion, name)

	// PlanOf of the full decode agrees with Read, values aside.
	of, err := planread.PlanOf(full, opts)
	require.NoError(t, err, name)
	require.Equal(t, got.Summary, of.Summary, "%s: PlanOf summary", name)
	require.Equal(t, got.Prior, of.Prior, "%s: PlanOf prior", name)
	require.Equal(t, errString(want), errString(of.Check()), "%s: PlanOf verdict", name)

	// The changes themselves: every header, and the values exactly where
	// NeedsValues asks for them.
	fullChanges := plancheck.Changes(full)
	for i := range fullChanges {
		if !planread.NeedsValues(fullChanges[i], opts) {
			fullChanges[i].Before, fullChanges[i].After, fullChanges[i].AfterUnknown = nil, nil, nil
		}
	}
	if diff := cmp.Diff(fullChanges, got.Changes, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("%s: changes (-full +read):\n%s", name, diff)
	}
}

// fixtureFiles lists every plan OpenTofu made for the tests: the event
// fixtures' saved plans here, and plancheck's plans, guard and
// security-group fixtures.
func fixtureFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"testdata", filepath.Join("..", "..", "plancheck", "testdata")} {
		m, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, m, dir)
		files = append(files, m...)
	}
	return files
}

// TestReadEquivalent: on every fixture plan (events/ here, plancheck's
// plans/, guard/ and sg/), with every Options, Read gives the verdict, summary and prior resources of
// the plan decoded whole.
func TestReadEquivalent(t *testing.T) {
	for _, f := range fixtureFiles(t) {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			full := plantest.LoadPlan(t, f)
			for i, opts := range readOptions {
				compareRead(t, fmt.Sprintf("%s/opts%d", f, i), b, full, opts)
			}
		})
	}
}

// TestReadLargePlans: the same on OpenTofu's plans of 500 local-module
// VMs, where Read skips nearly everything.
func TestReadLargePlans(t *testing.T) {
	for _, lp := range largePlans {
		t.Run(lp.name, func(t *testing.T) {
			b, _ := largePlanJSON(t, lp)
			var full tfjson.Plan
			require.NoError(t, json.Unmarshal(b, &full))
			for i, opts := range readOptions {
				compareRead(t, fmt.Sprintf("%s/opts%d", lp.name, i), b, &full, opts)
			}
			p, err := planread.Read(bytes.NewReader(b), nil)
			require.NoError(t, err)
			assert.Equal(t, audit.PlanSummary{Add: lp.total - lp.base}, p.Summary)
			assert.Equal(t, lp.base, priorVMs(p.Prior, "lablink_vm"))
			assert.NoError(t, p.Check())
			for _, c := range p.Changes {
				assert.Nil(t, c.After, "%s: %s: a created VM's values are not decoded", lp.name, c.Address)
			}
		})
	}
}

// Edge cases of encoding/json that Read must treat as terraform-json
// does; the fuzz target explores more.
func TestReadEdgeCases(t *testing.T) {
	const head = `"format_version":"1.2"`
	vm := func(actions, extra string) string {
		return `{"address":"aws_instance.lablink_vm[0]","mode":"managed","type":"aws_instance","name":"lablink_vm","change":{"actions":` + actions + extra + `}}`
	}
	const update = `,"before":{"tags":{"Name":"a"}},"after":{"tags":{"Name":"b"}},"after_unknown":{}`
	tests := []struct {
		name string
		json string
		// fullFails and readFails say which readers reject the input;
		// where both read it, the results must be equal.
		fullFails, readFails bool
	}{
		{name: "keys in another case", json: `{"Format_Version":"1.2","RESOURCE_CHANGES":[{"Address":"aws_instance.lablink_vm[0]","MODE":"managed","Type":"aws_instance","Name":"lablink_vm","Change":{"Actions":["delete"]}}]}`},
		{name: "keys with a Unicode fold (ſ for s)", json: `{` + head + `,"reſource_changes":[{"type":"aws_instance","name":"lablink_vm","change":{"actions":["delete"]},"mode":"managed","addreſs":"x"}],"prior_ſtate":{"format_version":"1.0","values":{"root_module":{"reſources":[{"mode":"managed","name":"lablink_vm","address":"a"}]}}}}`},
		{name: "repeated resource_changes merge element by element", json: `{` + head + `,"resource_changes":[` + vm(`["delete"]`, "") + `,` + vm(`["create"]`, "") + `],"resource_changes":[{"address":"other"}]}`},
		{name: "repeated change merges", json: `{` + head + `,"resource_changes":[{"type":"aws_instance","name":"lablink_vm","mode":"managed","change":{"actions":["update"]` + update + `},"change":{"after":{"tags":{"Name":"a"}}}}]}`},
		{name: "change null after a change", json: `{` + head + `,"resource_changes":[{"type":"aws_instance","name":"lablink_vm","mode":"managed","change":{"actions":["create"]},"change":null}]}`},
		{name: "null resource change", json: `{` + head + `,"resource_changes":[null,` + vm(`["create"]`, "") + `]}`},
		{name: "null action", json: `{` + head + `,"resource_changes":[` + vm(`[null]`, "") + `]}`},
		{name: "mode missing", json: `{` + head + `,"resource_changes":[{"type":"aws_instance","name":"lablink_vm","change":{"actions":["delete"]}}]}`},
		{name: "repeated prior_state replaces", json: `{` + head + `,"prior_state":{"format_version":"1.0","values":{"root_module":{"resources":[{"mode":"managed","name":"lablink_vm"}]}}},"prior_state":{"format_version":"1.0"}}`},
		{name: "prior_state null", json: `{` + head + `,"prior_state":null}`},
		{name: "null prior resource", json: `{` + head + `,"prior_state":{"format_version":"1.0","values":{"root_module":{"resources":[null,{"mode":"managed","name":"lablink_vm"}]}}}}`},
		{name: "invalid UTF-8 in a name", json: "{" + head + `,"resource_changes":[{"type":"aws_instance","name":"lablink_vm` + "\xff" + `","change":{"actions":["delete"]}}]}`},

		{name: "format version missing", json: `{"resource_changes":[]}`, fullFails: true, readFails: true},
		{name: "format version 2", json: `{"format_version":"2.0"}`, fullFails: true, readFails: true},
		{name: "format version not a version", json: `{"format_version":"x"}`, fullFails: true, readFails: true},
		{name: "prior state without format version", json: `{` + head + `,"prior_state":{}}`, fullFails: true, readFails: true},
		{name: "not an object", json: `[]`, fullFails: true, readFails: true},
		{name: "null", json: `null`, fullFails: true, readFails: true},
		{name: "trailing data", json: `{` + head + `} {}`, fullFails: true, readFails: true},
		{name: "syntax error in a skipped part", json: `{` + head + `,"planned_values":{"x":[1,]}}`, fullFails: true, readFails: true},
		{name: "address not a string", json: `{` + head + `,"resource_changes":[{"address":7}]}`, fullFails: true, readFails: true},
		{name: "provider_name not a string", json: `{` + head + `,"resource_changes":[{"provider_name":true}]}`, fullFails: true, readFails: true},
		{name: "actions not a list", json: `{` + head + `,"resource_changes":[` + vm(`"delete"`, "") + `]}`, fullFails: true, readFails: true},
		{name: "schema_version negative", json: `{` + head + `,"prior_state":{"format_version":"1.0","values":{"root_module":{"resources":[{"schema_version":-1}]}}}}`, fullFails: true, readFails: true},
		{name: "number beyond float64 in an update's values", json: `{` + head + `,"resource_changes":[` + vm(`["update"]`, `,"before":{"size":1},"after":{"size":1e400}`) + `]}`, fullFails: true, readFails: true},

		// The deliberate difference: what Read never reads.
		{name: "number beyond float64 in a create's values", json: `{` + head + `,"resource_changes":[` + vm(`["create"]`, `,"after":{"size":1e400}`) + `]}`, fullFails: true},
		{name: "planned_values of the wrong type", json: `{` + head + `,"planned_values":7}`, fullFails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.json)
			var full tfjson.Plan
			fullErr := json.Unmarshal(b, &full)
			require.Equal(t, tt.fullFails, fullErr != nil, "terraform-json: %v", fullErr)
			_, readErr := planread.Read(bytes.NewReader(b), nil)
			require.Equal(t, tt.readFails, readErr != nil, "Read: %v", readErr)
			if fullErr == nil {
				for i, opts := range readOptions {
					compareRead(t, fmt.Sprintf("%s/opts%d", tt.name, i), b, &full, opts)
				}
			}
		})
	}
}

func TestReadInvalidOptions(t *testing.T) {
	_, err := planread.Read(strings.NewReader(`{"format_version":"1.2"}`), &plancheck.Options{Ports: []int{-1}})
	require.Error(t, err)
	assert.NotErrorIs(t, err, plancheck.ErrRefused)
	assert.Contains(t, err.Error(), "port -1")
}

// TestNeedsValues: NeedsValues applies planscope's rule with the client
// VMs of the Options (internal/planscope tests the rule itself).
func TestNeedsValues(t *testing.T) {
	update := func(typ, name string) plancheck.Change {
		return plancheck.Change{Type: typ, Name: name, Actions: []string{"update"}}
	}
	custom := &plancheck.Options{ClientVMs: []string{"aws_instance.other"}}
	tests := []struct {
		name string
		c    plancheck.Change
		opts *plancheck.Options
		want bool
	}{
		{"default VM", update("aws_instance", "lablink_vm"), nil, true},
		{"default twin", update("terraform_data", "lablink_vm"), &plancheck.Options{}, true},
		{"not a VM", update("aws_instance", "other"), nil, false},
		{"ClientVMs given", update("aws_instance", "other"), custom, true},
		{"ClientVMs replace the defaults", update("aws_instance", "lablink_vm"), custom, false},
		{"security group", plancheck.Change{Type: "aws_security_group", Name: "x", Actions: []string{"create"}}, custom, true},
		{"invalid options read everything", plancheck.Change{Type: "x"}, &plancheck.Options{Ports: []int{-1}}, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, planread.NeedsValues(tt.c, tt.opts), tt.name)
	}
}

// TestReadKeepsOptions: a Plan is checked with the Options it was read
// with, as they were: changing the caller's Options afterwards changes
// nothing.
func TestReadKeepsOptions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "plancheck", "testdata", "plans", "update-tags.json"))
	require.NoError(t, err)
	opts := &plancheck.Options{HarmlessUpdates: []string{"input.tags", "output"}}
	p, err := planread.Read(bytes.NewReader(b), opts)
	require.NoError(t, err)
	opts.HarmlessUpdates[0] = "input.user_data"
	assert.NoError(t, p.Check(), "the tags update passes with the Options read with")
}

func TestPlanOfNil(t *testing.T) {
	_, err := planread.PlanOf(nil, nil)
	assert.Error(t, err)
}

func TestPlanCheckWithoutRead(t *testing.T) {
	p := &planread.Plan{Changes: []plancheck.Change{{Address: "aws_instance.lablink_vm[0]", Type: "aws_instance", Name: "lablink_vm", Actions: []string{"delete"}}}}
	assert.ErrorIs(t, p.Check(), plancheck.ErrRefused, "the default Options")
}

// FuzzReadEquivalent: on any input terraform-json decodes, Read succeeds
// with the verdict, summary and prior resources of the full decode. On an
// input terraform-json rejects, Read fails too, unless terraform-json's
// only complaint is a value of the wrong type (or a number beyond
// float64) in a part Read never reads: the input is still one valid JSON
// value with valid format versions.
func FuzzReadEquivalent(f *testing.F) {
	for _, p := range fixtureFiles(f) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Format_Version":"1.2","RESOURCE_CHANGES":[{"type":"aws_instance","name":"lablink_vm","mode":"managed","change":{"actions":["update"],"before":{"a":1},"after":{"a":2}},"change":{"after":{"a":1}}}],"resource_changes":[{"address":"x"}]}`))
	f.Add([]byte(`{"format_version":"1.2","resource_changes":[null,{"type":"terraform_data","name":"lablink_vm","mode":"managed","change":{"actions":["forget","create"]}}],"prior_state":{"format_version":"1.0","values":{"root_module":{"resources":[null,{"mode":"managed","name":"lablink_vm"}]}}},"prior_state":{"format_version":"1.0"}}`))
	f.Add([]byte(`{"format_version":"1.2","resource_changes":[{"type":"aws_instance","name":"lablink_vm","mode":"managed","change":{"actions":["create"],"after":{"n":1e400}}}],"planned_values":7}`))
	f.Add([]byte(`{"format_version":"1.2","resource_changes":[{"type":"aws_instance","name":"lablink_vm","change":{"actions":["update"],"before":{"a":[1,{"b":null}]},"after":{"a":[1,{"b":true}]},"after_unknown":{"a":[false,true]}}}]}`))
	f.Add([]byte(`{"format_version":"1.2","resource_changes":[{"type":"aws_security_group","name":"x","change":{"actions":["create"],"after":{"ingress":[{"protocol":-1,"from_port":6080.5,"to_port":"x","cidr_blocks":[null,7,"::/0"],"ipv6_cidr_blocks":"::/0"}]},"after_unknown":{"ingress":[{"cidr_blocks":[true]}]}}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var full tfjson.Plan
		fullErr := json.Unmarshal(b, &full)
		for i, opts := range readOptions {
			name := fmt.Sprintf("opts%d", i)
			if fullErr == nil {
				compareRead(t, name, b, &full, opts)
				continue
			}
			if _, err := planread.Read(bytes.NewReader(b), opts); err != nil {
				continue
			}
			var syntax *json.SyntaxError
			if errors.As(fullErr, &syntax) || !json.Valid(b) {
				t.Fatalf("%s: Read accepted what is not valid JSON: %v", name, fullErr)
			}
			if strings.Contains(fullErr.Error(), "format version") {
				t.Fatalf("%s: Read accepted a format version terraform-json refuses: %v", name, fullErr)
			}
		}
	})
}

// FuzzReduce: Read, which decodes a reduced copy of the plan, reads
// exactly what one json.Unmarshal of the whole plan into the same types
// reads, on any input: both fail, or both give the same Plan, values
// included.
func FuzzReduce(f *testing.F) {
	for _, p := range fixtureFiles(f) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"Format_Version":"1.2","RESOURCE_CHANGES":[{"type":"aws_instance","name":"lablink_vm","mode":"managed","change":{"actions":["update"],"before":{"a":1},"after":{"a":2}},"Change":{"AFTER":{"a":1}}}],"resource_changes":[{"address":"x"}]}`,
		`{"format_version":"1.2","reſource_changes":[{"type":"aws_instance","name":"lablink_vm","mode":"managed","change":{"actions":["update"],"aft\u0065r":{"a":"\"}"},"before":{"a":"\\"}}}],"prior_state":{"format_version":"1.0","values":{"root_module":{"resources":[null,{"mode":"managed","name":"lablink_vm","values":{"x":[1,{"y":"]"}]}}]}}}}`,
		`{"format_version":"1.2","resource_changes":[{"type":"aws_instance","name":"lablink_vm","mode":"managed","change":{"actions":["update"],"before":7,"after":[],"after_unknown":null}}],"planned_values":{"a":[1e400]}}`,
		` {"format_version" : "1.2" , "resource_changes" : [ { "change" : { "actions" : [ "create" ] , "after" : { } } } , 3 , "x" ] , "prior_state" : null } `,
	} {
		f.Add([]byte(s))
	}
	ignore := cmpopts.IgnoreUnexported(planread.Plan{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for i, opts := range readOptions {
			got, err := planread.Read(bytes.NewReader(b), opts)
			want, wantErr := planread.ReadPlain(bytes.NewReader(b), opts)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("opts%d: Read: %v; one json.Unmarshal: %v", i, err, wantErr)
			}
			if err != nil {
				continue
			}
			if diff := cmp.Diff(want, got, ignore); diff != "" {
				t.Fatalf("opts%d: (-unmarshal +read):\n%s", i, diff)
			}
		}
	})
}
