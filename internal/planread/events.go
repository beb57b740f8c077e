package planread

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lablink-go/lablink/plancheck"
)

// ErrNeedsSavedPlan is the condition ReadEvents' callers branch on: the
// event stream does not show enough of the plan for Check and the
// summary, which must come from the saved plan (`show -json` and Read).
var ErrNeedsSavedPlan = errors.New("the plan's event stream is not enough; read the saved plan")

// maxEventLine bounds one line of the event stream. OpenTofu's lines are
// short (no attribute values); a diagnostic may quote configuration.
const maxEventLine = 4 << 20

// ReadEvents reads the machine-readable UI that `tofu plan -json` prints
// (one JSON message a line; tfexec's PlanJSON writes it to its writer)
// and returns the Plan that Read would return for the same plan, or an
// error matching ErrNeedsSavedPlan when the stream cannot prove it. It
// proves it for a plan that only creates managed resources the checks
// need no values of, and reads data sources: then Check passes, Summary
// counts the creates, and Changes holds the creates and reads (without
// values). Every other plan (an update, delete, replace, forget, move or
// import, anything the security-group policy must look into, an action
// it does not know, or a stream without its change summary) is left to
// the saved plan. Changes are in the stream's order, which is not the
// saved plan's. Prior is nil: the stream does not list the prior state.
//
// Why this is exact: OpenTofu prints a planned_change message for every
// resource change of the plan except no-ops that neither move nor import
// (which pass Check and count nowhere) and deletes of data sources (which
// `show -json` leaves out as well), and a change_summary counting them;
// ReadEvents requires the summary to agree with the messages. (OpenTofu
// 1.12's internal/command/views/operation.go, OperationJSON.Plan.)
//
// A stream ReadEvents cannot parse (a line that is not one JSON object,
// a repeated key, a field of the wrong type, a read error) also matches
// ErrNeedsSavedPlan: the saved plan is still there to read. A plan that
// failed prints error diagnostics (after a change summary, at times);
// ReadEvents returns them, by address, summary and detail, in an error
// that does not match ErrNeedsSavedPlan, since OpenTofu writes them to
// the stream rather than to stderr when -json is set.
func ReadEvents(r io.Reader, opts *plancheck.Options) (*Plan, error) {
	scope, err := scopeOf(opts)
	if err != nil {
		return nil, err
	}
	st := &eventStream{p: &Plan{Changes: []plancheck.Change{}, opts: scope.opts}, sc: scope}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxEventLine)
	for line := 1; sc.Scan(); line++ {
		if err := st.line(bytes.TrimSpace(sc.Bytes())); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrNeedsSavedPlan, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNeedsSavedPlan, err)
	}
	if err := verdict(st.p, st.summary, st.diags, st.needsPlan); err != nil {
		return nil, err
	}
	return st.p, nil
}

// eventStream is what ReadEvents has read so far.
type eventStream struct {
	p         *Plan
	sc        *scope
	summary   *eventSummary
	diags     []string
	needsPlan []string
}

// line reads one message of the stream.
func (st *eventStream) line(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	msg, err := strictObject(b)
	if err != nil {
		return err
	}
	var typ string
	if err := decodeField(msg, "type", &typ); err != nil {
		return err
	}
	switch typ {
	case "planned_change":
		c, why, err := plannedChange(msg["change"])
		if err != nil {
			return err
		}
		if why == "" && st.sc.needsValues(c) {
			why = c.Address + ": the checks read its values"
		}
		if why != "" {
			st.needsPlan = append(st.needsPlan, why)
			return nil
		}
		if c.Actions[0] == "create" {
			st.p.Summary.Add++
		}
		st.p.Changes = append(st.p.Changes, c)
	case "change_summary":
		if st.summary != nil {
			return errors.New("two change summaries")
		}
		if st.summary, err = changeSummary(msg["changes"]); err != nil {
			return err
		}
	case "diagnostic":
		if d := errorDiagnostic(msg["diagnostic"]); d != "" {
			st.diags = append(st.diags, d)
		}
	}
	return nil
}

// verdict says whether the stream read into p proves the plan: no error
// diagnostics, no change left to the saved plan, and one change summary
// of the plan that counts exactly the creates listed.
func verdict(p *Plan, summary *eventSummary, diags, needsPlan []string) error {
	switch {
	case len(diags) > 0:
		return fmt.Errorf("the plan failed: %s", strings.Join(diags, "; "))
	case len(needsPlan) > 0:
		return fmt.Errorf("%w: %s", ErrNeedsSavedPlan, strings.Join(needsPlan, "; "))
	case summary == nil:
		return fmt.Errorf("%w: no change summary", ErrNeedsSavedPlan)
	case summary.Operation != "plan":
		return fmt.Errorf("%w: change summary of operation %q", ErrNeedsSavedPlan, summary.Operation)
	case summary.Add != p.Summary.Add || summary.Change != 0 || summary.Remove != 0 || summary.Forget != 0 || summary.Import != 0:
		return fmt.Errorf("%w: the change summary (%d to add, %d to change, %d to remove, %d to forget, %d to import) is not the %d creates listed",
			ErrNeedsSavedPlan, summary.Add, summary.Change, summary.Remove, summary.Forget, summary.Import, p.Summary.Add)
	}
	return nil
}

// plannedChange reads a planned_change message's change. It returns why
// the change needs the saved plan, or "" for a create of a managed
// resource or a read of a data source.
func plannedChange(raw json.RawMessage) (plancheck.Change, string, error) {
	ch, err := strictObject(raw)
	if err != nil {
		return plancheck.Change{}, "", fmt.Errorf("change: %w", err)
	}
	res, err := strictObject(ch["resource"])
	if err != nil {
		return plancheck.Change{}, "", fmt.Errorf("change.resource: %w", err)
	}
	var action, addr, module, resource, typ, name string
	for _, f := range []struct {
		m   map[string]json.RawMessage
		key string
		dst *string
	}{{ch, "action", &action}, {res, "addr", &addr}, {res, "module", &module}, {res, "resource", &resource}, {res, "resource_type", &typ}, {res, "resource_name", &name}} {
		if err := decodeField(f.m, f.key, f.dst); err != nil {
			return plancheck.Change{}, "", fmt.Errorf("change: %w", err)
		}
	}
	for _, k := range []string{"previous_resource", "importing"} {
		if _, ok := ch[k]; ok {
			return plancheck.Change{}, addr + ": " + k, nil
		}
	}
	var mode, rest string
	if r, ok := strings.CutPrefix(resource, "data."+typ+"."+name); ok {
		mode, rest = "data", r
	} else if r, ok := strings.CutPrefix(resource, typ+"."+name); ok {
		mode, rest = "managed", r
	}
	whole := resource
	if module != "" {
		whole = module + "." + resource
	}
	if mode == "" || rest != "" && rest[0] != '[' || typ == "" || name == "" || addr != whole {
		return plancheck.Change{}, addr + ": an address this reader does not know", nil
	}
	if !(mode == "managed" && action == "create" || mode == "data" && action == "read") {
		return plancheck.Change{}, addr + ": " + action, nil
	}
	c := plancheck.Change{Address: addr, Mode: mode, Type: typ, Name: name, Actions: []string{action}}
	return c, "", nil
}

// eventSummary is a change_summary message's changes.
type eventSummary struct {
	Add, Change, Import, Remove, Forget int
	Operation                           string
}

func changeSummary(raw json.RawMessage) (*eventSummary, error) {
	m, err := strictObject(raw)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	s := &eventSummary{}
	for _, f := range []struct {
		key string
		dst *int
	}{{"add", &s.Add}, {"change", &s.Change}, {"import", &s.Import}, {"remove", &s.Remove}, {"forget", &s.Forget}} {
		if _, ok := m[f.key]; !ok {
			// OpenTofu always prints all five; Terraform has no forget.
			if f.key == "forget" {
				continue
			}
			return nil, fmt.Errorf("changes: no %s", f.key)
		}
		if err := decodeField(m, f.key, f.dst); err != nil {
			return nil, fmt.Errorf("changes: %w", err)
		}
	}
	if err := decodeField(m, "operation", &s.Operation); err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	return s, nil
}

// errorDiagnostic describes an error diagnostic by its address, summary
// and detail (a failed condition's error_message, the holder of a lock),
// or returns "" for a warning or what it cannot read. It leaves out the
// snippet, which quotes configuration and the values of the expressions
// involved; OpenTofu itself hides sensitive values in the detail.
func errorDiagnostic(raw json.RawMessage) string {
	var d struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
		Address  string `json:"address"`
	}
	if json.Unmarshal(raw, &d) != nil || d.Severity != "error" {
		return ""
	}
	msg := d.Summary
	if d.Address != "" {
		msg = d.Address + ": " + msg
	}
	if d.Detail != "" {
		msg += ": " + d.Detail
	}
	return msg
}

// strictObject decodes a JSON object into its members, refusing a
// repeated key: encoding/json would let the last one win (and match keys
// case-insensitively), which could hide a message's real type.
func strictObject(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil {
		return nil, err
	} else if tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	m := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k := tok.(string)
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("key %q repeated", k)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

// decodeField decodes the member key of m into dst, which must be there.
func decodeField[T any](m map[string]json.RawMessage, key string, dst *T) error {
	raw, ok := m[key]
	if !ok {
		return fmt.Errorf("no %s", key)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}
