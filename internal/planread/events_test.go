package planread_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/planread"
	"github.com/lablink-go/lablink/internal/plantest"
	"github.com/lablink-go/lablink/plancheck"
)

func eventPaths(name string) (events, show string) {
	base := filepath.Join("testdata", "events", name)
	return base + ".jsonl", base + ".json"
}

var update = flag.Bool("update", false, "regenerate testdata/events with the OpenTofu named by $TOFU_PATH")

// TestGenerateEventFixtures rebuilds testdata/events with a real OpenTofu:
//
//	TOFU_PATH=$HOME/.cache/lablink/tofu-v1.12.6 go test ./internal/planread -run TestGenerateEventFixtures -update
//
// Each case (plantest.EventCases: plancheck's testdata/plans, and plans
// only the event stream tells apart) is applied with its base variables,
// then planned with `plan -json -out`, whose event stream goes to
// NAME.jsonl, and the saved plan shown with `show -json` into NAME.json.
// Without -update it does nothing.
func TestGenerateEventFixtures(t *testing.T) {
	plantest.Generate(t, *update, filepath.Join("testdata", "events"), plantest.EventCases(), "-json", func(t *testing.T, c plantest.Case, events, show []byte) {
		ev, sh := eventPaths(c.Name)
		require.NoError(t, os.WriteFile(ev, events, 0o644))
		require.NoError(t, os.WriteFile(sh, show, 0o644))
	})
}

// compareEvents fails t unless ReadEvents on the event stream either
// leaves the plan to the saved plan, or gives exactly what Read gives on
// the saved plan's `show -json` for the checks and the summary.
func compareEvents(t testing.TB, name string, events, show []byte, opts *plancheck.Options) (fromEvents bool) {
	t.Helper()
	full, err := planread.Read(bytes.NewReader(show), opts)
	require.NoError(t, err, name)
	got, err := planread.ReadEvents(bytes.NewReader(events), opts)
	if err != nil {
		require.ErrorIs(t, err, planread.ErrNeedsSavedPlan, name)
		return false
	}
	assert.Equal(t, errString(full.Check()), errString(got.Check()), "%s: verdict", name)
	assert.NoError(t, got.Check(), name)
	assert.Equal(t, full.Summary, got.Summary, "%s: summary", name)
	assert.Nil(t, got.Prior, name)
	// The stream lists every change but the plain no-ops, in its own
	// order.
	var want []plancheck.Change
	for _, c := range full.Changes {
		if len(c.Actions) != 1 || c.Actions[0] != "no-op" {
			want = append(want, c)
		}
	}
	byAddress := cmpopts.SortSlices(func(a, b plancheck.Change) bool { return a.Address < b.Address })
	if diff := cmp.Diff(want, got.Changes, cmpopts.EquateEmpty(), byAddress); diff != "" {
		t.Errorf("%s: changes (-show +events):\n%s", name, diff)
	}
	return true
}

// TestReadEventsEquivalent: on every plan OpenTofu made for
// testdata/events, the event stream gives the saved plan's verdict and
// summary or says it cannot; it can for the plans that only create and
// read, and for no other.
func TestReadEventsEquivalent(t *testing.T) {
	fromEvents := map[string]bool{"noop": true, "create": true, "create-from-empty": true, "create-in-module": true, "read": true}
	for _, c := range plantest.EventCases() {
		t.Run(c.Name, func(t *testing.T) {
			evPath, showPath := eventPaths(c.Name)
			events, err := os.ReadFile(evPath)
			require.NoError(t, err)
			show, err := os.ReadFile(showPath)
			require.NoError(t, err)
			for i, opts := range readOptions {
				got := compareEvents(t, fmt.Sprintf("%s/opts%d", c.Name, i), events, show, opts)
				assert.Equal(t, fromEvents[c.Name], got, "%s/opts%d: read from the event stream", c.Name, i)
			}
		})
	}
}

func TestReadEventsLargePlans(t *testing.T) {
	for _, lp := range largePlans {
		t.Run(lp.name, func(t *testing.T) {
			show, events := largePlanJSON(t, lp)
			for i, opts := range readOptions {
				require.True(t, compareEvents(t, fmt.Sprintf("%s/opts%d", lp.name, i), events, show, opts), lp.name)
			}
			// What the launcher infers the prior VMs from on this path:
			// instance_count minus the VMs created, which is the count
			// of the saved plan's prior state.
			p, err := planread.ReadEvents(bytes.NewReader(events), nil)
			require.NoError(t, err)
			full, err := planread.Read(bytes.NewReader(show), nil)
			require.NoError(t, err)
			created := 0
			for _, c := range p.Changes {
				if c.Name == "lablink_vm" && !strings.HasPrefix(c.Address, "module.") && c.Actions[0] == "create" {
					created++
				}
			}
			assert.Equal(t, priorVMs(full.Prior, "lablink_vm"), lp.total-created, lp.name)
		})
	}
}

// Streams written by hand for what the fixtures cannot show.
func TestReadEventsByHand(t *testing.T) {
	// res is the resource of a root-module address, as OpenTofu prints it.
	res := func(addr, typ, name string) string {
		return fmt.Sprintf(`{"addr":%q,"module":"","resource":%q,"implied_provider":"x","resource_type":%q,"resource_name":%q}`, addr, addr, typ, name)
	}
	change := func(addr, typ, name, action string, extra string) string {
		return `{"type":"planned_change","change":{"resource":` + res(addr, typ, name) + `,"action":"` + action + `"` + extra + `}}`
	}
	summary := func(add, chg, remove int) string {
		return fmt.Sprintf(`{"type":"change_summary","changes":{"add":%d,"change":%d,"import":0,"remove":%d,"forget":0,"operation":"plan"}}`, add, chg, remove)
	}
	vm := change("aws_instance.lablink_vm[0]", "aws_instance", "lablink_vm", "create", "")
	tests := []struct {
		name  string
		lines []string
		// want is "" when the stream is read, else a part of the error.
		want string
	}{
		{name: "creates", lines: []string{`{"type":"version"}`, vm, change("aws_instance.lablink_vm[1]", "aws_instance", "lablink_vm", "create", ""), summary(2, 0, 0)}},
		{name: "nothing to do", lines: []string{summary(0, 0, 0)}},
		{name: "security group created", lines: []string{vm, change("aws_security_group.lablink_client", "aws_security_group", "lablink_client", "create", ""), summary(2, 0, 0)}, want: "the checks read its values"},
		{name: "ingress rule created", lines: []string{change("aws_vpc_security_group_ingress_rule.x", "aws_vpc_security_group_ingress_rule", "x", "create", ""), summary(1, 0, 0)}, want: "the checks read its values"},
		{name: "update", lines: []string{change("aws_instance.lablink_vm[0]", "aws_instance", "lablink_vm", "update", ""), summary(0, 1, 0)}, want: "update"},
		{name: "delete", lines: []string{change("aws_instance.lablink_vm[0]", "aws_instance", "lablink_vm", "delete", ""), summary(0, 0, 1)}, want: "delete"},
		{name: "replace", lines: []string{change("aws_instance.lablink_vm[0]", "aws_instance", "lablink_vm", "replace", ""), summary(1, 0, 1)}, want: "replace"},
		// OpenTofu 1.12 prints forget-then-create as "noop".
		{name: "forget and create", lines: []string{change("aws_instance.lablink_vm[0]", "aws_instance", "lablink_vm", "noop", ""), `{"type":"change_summary","changes":{"add":1,"change":0,"import":0,"remove":0,"forget":1,"operation":"plan"}}`}, want: "noop"},
		{name: "moved", lines: []string{change("aws_instance.lablink_vm[0]", "aws_instance", "lablink_vm", "create", `,"previous_resource":`+res("aws_instance.old[0]", "aws_instance", "old")), summary(1, 0, 0)}, want: "previous_resource"},
		{name: "imported", lines: []string{change("aws_instance.lablink_vm[0]", "aws_instance", "lablink_vm", "create", `,"importing":{"id":"i-1"}`), summary(1, 0, 0)}, want: "importing"},
		{name: "create of a data source", lines: []string{change("data.aws_instance.lablink_vm", "aws_instance", "lablink_vm", "create", ""), summary(1, 0, 0)}, want: "create"},
		{name: "read of a managed resource", lines: []string{change("aws_instance.lablink_vm[0]", "aws_instance", "lablink_vm", "read", ""), summary(0, 0, 0)}, want: "read"},
		{name: "ephemeral resource", lines: []string{change("ephemeral.x.y", "x", "y", "create", ""), summary(1, 0, 0)}, want: "does not know"},
		{name: "create in a module", lines: []string{`{"type":"planned_change","change":{"resource":{"addr":"module.m.aws_instance.lablink_vm[0]","module":"module.m","resource":"aws_instance.lablink_vm[0]","resource_type":"aws_instance","resource_name":"lablink_vm"},"action":"create"}}`, summary(1, 0, 0)}},
		{name: "module and address disagree", lines: []string{`{"type":"planned_change","change":{"resource":{"addr":"module.m.aws_instance.lablink_vm[0]","module":"","resource":"aws_instance.lablink_vm[0]","resource_type":"aws_instance","resource_name":"lablink_vm"},"action":"create"}}`, summary(1, 0, 0)}, want: "does not know"},
		{name: "address and resource disagree", lines: []string{`{"type":"planned_change","change":{"resource":{"addr":"aws_instance.lablink_vm[0]","module":"","resource":"aws_instance.other[0]","resource_type":"aws_instance","resource_name":"lablink_vm"},"action":"create"}}`, summary(1, 0, 0)}, want: "does not know"},
		{name: "summary counts more", lines: []string{vm, summary(2, 0, 0)}, want: "is not the 1 creates"},
		{name: "summary counts a hidden delete", lines: []string{vm, summary(1, 0, 1)}, want: "1 to remove"},
		{name: "no summary", lines: []string{vm}, want: "no change summary"},
		{name: "two summaries", lines: []string{vm, summary(1, 0, 0), summary(1, 0, 0)}, want: "two change summaries"},
		{name: "summary of an apply", lines: []string{`{"type":"change_summary","changes":{"add":0,"change":0,"import":0,"remove":0,"forget":0,"operation":"apply"}}`}, want: `operation "apply"`},
		{name: "repeated type key", lines: []string{`{"type":"planned_change","type":"log","change":{}}`, summary(0, 0, 0)}, want: `"type" repeated`},
		{name: "type in another case", lines: []string{`{"Type":"planned_change","type":"log"}`, summary(0, 0, 0)}},
		{name: "not JSON", lines: []string{"Plan: 1 to add", summary(0, 0, 0)}, want: "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planread.ReadEvents(strings.NewReader(strings.Join(tt.lines, "\n")+"\n"), nil)
			if tt.want == "" {
				require.NoError(t, err)
				assert.NoError(t, p.Check())
				return
			}
			require.ErrorIs(t, err, planread.ErrNeedsSavedPlan, "%s: left to the saved plan", tt.name)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	// A plan that failed has no saved plan to read; its diagnostics are
	// in the stream.
	_, err := planread.ReadEvents(strings.NewReader(`{"type":"diagnostic","diagnostic":{"severity":"error","summary":"Invalid value for variable","detail":"x must be small.","address":"var.x","snippet":{"values":[{"traversal":"var.x","statement":"is 5"}]}}}`+"\n"+
		`{"type":"diagnostic","diagnostic":{"severity":"warning","summary":"w"}}`), nil)
	require.Error(t, err)
	assert.NotErrorIs(t, err, planread.ErrNeedsSavedPlan)
	assert.Equal(t, "the plan failed: var.x: Invalid value for variable: x must be small.", err.Error(), "summary and detail, not the snippet's values")
}

func BenchmarkReadEvents(b *testing.B) {
	for _, lp := range largePlans {
		_, events := largePlanJSON(b, lp)
		b.Run(lp.name, func(b *testing.B) {
			b.SetBytes(int64(len(events)))
			b.ReportAllocs()
			for b.Loop() {
				p, err := planread.ReadEvents(bytes.NewReader(events), nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Check(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
