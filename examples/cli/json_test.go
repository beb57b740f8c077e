package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/json")

// parseDoc decodes stdout, which must hold exactly one JSON document,
// into a T that knows every member (so that the Go type documents the
// shape), and requires it to encode back to the same JSON (so that no
// member is lost on the way).
func parseDoc[T any](t *testing.T, stdout string) T {
	t.Helper()
	var doc T
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&doc), "stdout:\n%s", stdout)
	require.False(t, dec.More(), "more than one document on stdout:\n%s", stdout)
	back, err := json.Marshal(doc)
	require.NoError(t, err)
	assert.JSONEq(t, stdout, string(back), "the document does not survive a round trip through %T", doc)
	return doc
}

// volatile are the members whose values change from run to run; golden
// files hold "<member>" in their place when they are set.
var volatile = map[string]bool{
	"launch_id": true, "started": true, "finished": true, "taken": true, "duration": true,
	"duration_seconds": true, "id": true, "lineage": true, "config_digest": true, "tfvars_sha256": true,
	"sha256": true, "catalog_date": true,
	// OpenTofu writes the state during an apply as it sees fit.
	"serial": true,
}

// volatileText are the parts of strings that change from run to run.
var volatileText = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d{8}T\d{6}(\.\d+)?Z-serial\d+-[^/"\s]*?\.tfstate`), "<copy>.tfstate"},
	{regexp.MustCompile(`\d{8}T\d{6}Z-[0-9a-f]{8}`), "<launch_id>"},
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "<uuid>"},
	{regexp.MustCompile(`replaced-\d+`), "replaced-<unix>"},
	{regexp.MustCompile(`serial \d+`), "serial <serial>"},
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z`), "<time>"},
}

// volatileMember matches a member whose value changes from run to run,
// set (not "" or null).
var volatileMember = func() *regexp.Regexp {
	var names []string
	for k := range volatile {
		names = append(names, regexp.QuoteMeta(k))
	}
	return regexp.MustCompile(`("(` + strings.Join(names, "|") + `)": )("(?:[^"\\]|\\.)+"|-?[0-9][0-9.eE+-]*)`)
}()

// normalize replaces what changes from run to run in the JSON text of a
// document, keeping its order and layout: the values of volatile members
// (by "<member>"), the directories of the test (dirs maps each to its
// stand-in), and volatileText.
func normalize(doc string, dirs *strings.Replacer) string {
	doc = volatileMember.ReplaceAllString(doc, `$1"<$2>"`)
	doc = dirs.Replace(doc)
	for _, vt := range volatileText {
		doc = vt.re.ReplaceAllString(doc, vt.with)
	}
	return doc
}

// golden compares the JSON document stdout, normalized, with
// testdata/json/name.json; -update rewrites that file.
func golden(t *testing.T, name, stdout string, dirs *strings.Replacer) {
	t.Helper()
	require.True(t, json.Valid([]byte(stdout)), "stdout:\n%s", stdout)
	got := normalize(stdout, dirs)
	path := filepath.Join("testdata", "json", name+".json")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to write it", t.Name())
	assert.Equal(t, string(want), got, "%s (go test -update rewrites it)", path)
}

// writeAuditStore records two attempts, a launch and a failed one, in a
// directory store, at fixed times and ids.
func writeAuditStore(t *testing.T, dir string) {
	t.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n := 0
	tr := audit.NewTrail(audit.NewDirStore(dir), &audit.Options{
		Now:   func() time.Time { return now },
		NewID: func() string { n++; return fmt.Sprintf("launch-%d", n) },
	})
	for i, outcome := range []audit.Outcome{audit.OutcomeSucceeded, audit.OutcomeFailed} {
		tfvars := []byte(fmt.Sprintf("allocator_ip = \"(sensitive)\"\ninstance_count = %d\n", 2+i))
		m, err := tr.Begin(t.Context(), audit.Manifest{
			Environment: "prod", Action: audit.Launch, Actor: "tester", Requested: 2, Existing: i * 2, Total: 2 + i*2,
			ConfigDigest: audit.Digest([]byte("config")),
			Variables:    []audit.VariableSource{{Name: "allocator_ip", Source: "flag --allocator-ip", Sensitive: true, Redacted: true}},
			GPU:          &audit.GPUAnswer{InstanceType: "g4dn.xlarge", NVIDIA: true, Source: "catalog"},
		}, tfvars)
		require.NoError(t, err)
		now = now.Add(2 * time.Minute)
		m.Outcome = outcome
		if outcome == audit.OutcomeFailed {
			m.Error = "apply failed"
		}
		_, err = tr.Finish(t.Context(), m, tfvars)
		require.NoError(t, err)
		now = now.Add(time.Hour)
	}
}

// TestJSONShapes: each command's --json document without OpenTofu, as
// golden files, parsed back into its documented type.
func TestJSONShapes(t *testing.T) {
	noAWS(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "audit")
	writeAuditStore(t, store)
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("machine:\n  machine_typo: x\nssl:\n  provider: none\n"), 0o600))
	module := upstreamModule(t)
	oldConfig := filepath.Join("..", "..", "testdata", "generations", "2025-11.yaml")
	env := map[string]string{"ALLOCATOR_SG_ID": sg, "LABLINK_AGENT_TOKEN": testkit.AgentToken, "LABLINK_REGISTER_TOKEN": testkit.RegisterToken}
	dirs := strings.NewReplacer(dir, "<dir>", module, "<module>")

	tests := []struct {
		name  string
		args  []string
		code  int
		parse func(t *testing.T, stdout string)
	}{
		{"help", []string{"help"}, exitOK, func(t *testing.T, s string) { parseDoc[helpDoc](t, s) }},
		{"render", []string{"render", "--allocator-ip", ip, "--gpu", "catalog", "--count", "2"}, exitOK, func(t *testing.T, s string) {
			d := parseDoc[renderDoc](t, s)
			assert.Equal(t, 2, d.InstanceCount)
			assert.Equal(t, 2, testkit.InstanceCount(t, []byte(d.TFVars), 0), "the file in the document")
		}},
		{"render-out", []string{"render", "--allocator-ip", ip, "--gpu", "false", "--out", filepath.Join(dir, "x.tfvars.json")}, exitOK,
			func(t *testing.T, s string) {
				d := parseDoc[renderDoc](t, s)
				assert.Equal(t, "json", d.Format)
				assert.Empty(t, d.TFVars, "the file went to --out")
				assert.FileExists(t, d.Out)
			}},
		{"validate", []string{"validate"}, exitOK, func(t *testing.T, s string) { assert.True(t, parseDoc[validateDoc](t, s).Valid) }},
		{"validate-warnings", []string{"validate", "--config", oldConfig}, exitOK, func(t *testing.T, s string) {
			d := parseDoc[validateDoc](t, s)
			assert.True(t, d.Valid)
			assert.NotEmpty(t, d.Warnings)
		}},
		{"validate-invalid", []string{"validate", "--config", bad}, exitInvalid, func(t *testing.T, s string) {
			d := parseDoc[validateDoc](t, s)
			assert.False(t, d.Valid)
			require.NotNil(t, d.Error)
			assert.Equal(t, "machine.machine_typo", d.Error.Field)
			assert.Equal(t, 2, d.Error.Line)
		}},
		{"defaults", []string{"defaults"}, exitOK, func(t *testing.T, s string) { parseDoc[defaultsDoc](t, s) }},
		{"defaults-drift", []string{"defaults", "--module", module}, exitFailure, func(t *testing.T, s string) {
			require.NotNil(t, parseDoc[defaultsDoc](t, s).Error)
		}},
		{"audit-list", []string{"audit", "list", "--store", store}, exitOK, func(t *testing.T, s string) {
			d := parseDoc[auditListDoc](t, s)
			require.Len(t, d.Records, 2)
			assert.Equal(t, "launch-2", d.Records[0].LaunchID, "newest first")
		}},
		{"audit-show", []string{"audit", "show", "--store", store, "launch-1"}, exitOK, func(t *testing.T, s string) {
			d := parseDoc[auditShowDoc](t, s)
			assert.Equal(t, audit.OutcomeSucceeded, d.Manifest.Outcome)
			assert.Contains(t, d.TFVars, "instance_count = 2")
		}},
		{"error-count", []string{"launch", "--count", "100000", "--workdir", filepath.Join(dir, "w"), "--allocator-ip", ip}, exitInvalid,
			func(t *testing.T, s string) { parseDoc[errorDoc](t, s) }},
		{"error-config", []string{"status", "--workdir", dir, "--config", bad}, exitInvalid,
			func(t *testing.T, s string) { parseDoc[errorDoc](t, s) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, env, append(tc.args, "--json")...)
			require.Equal(t, tc.code, r.code, "%v", r)
			tc.parse(t, r.stdout)
			golden(t, tc.name, r.stdout, dirs)
		})
	}
}

// TestJSONDocumented: every result document's members are in JSON.md and
// in the -h text of its command.
func TestJSONDocumented(t *testing.T) {
	t.Parallel()
	md, err := os.ReadFile("JSON.md")
	require.NoError(t, err)
	docs := []struct {
		cmd []string
		doc any
	}{
		{[]string{"render"}, renderDoc{}}, {[]string{"validate"}, validateDoc{}}, {[]string{"defaults"}, defaultsDoc{}},
		{[]string{"launch"}, launchDoc{}}, {[]string{"status"}, statusDoc{}}, {[]string{"destroy"}, destroyDoc{}},
		{[]string{"restore-state"}, restoreDoc{}}, {[]string{"audit", "list"}, auditListDoc{}}, {[]string{"audit", "show"}, auditShowDoc{}},
		{nil, errorBody{}}, {nil, problem{}}, {nil, vmDoc{}}, {nil, orphanDoc{}}, {nil, lastDoc{}}, {nil, stateProblemDoc{}},
		{nil, copyDoc{}}, {nil, stateDoc{}}, {nil, gpuDoc{}}, {nil, warningDoc{}}, {nil, variableDoc{}}, {nil, helpDoc{}},
	}
	for _, d := range docs {
		names := jsonNames(t, d.doc)
		for _, n := range names {
			documented := strings.Contains(string(md), "`"+n+"`") || strings.Contains(string(md), `"`+n+`"`)
			assert.True(t, documented, "JSON.md does not document %q of %T", n, d.doc)
		}
		if d.cmd == nil {
			continue
		}
		r := runCLI(t, nil, append(d.cmd, "-h")...)
		for _, n := range names {
			if n != "error" || d.cmd[0] != "audit" {
				assert.Contains(t, r.stderr, `"`+n+`"`, "%v -h does not name %q", d.cmd, n)
			}
		}
	}
}

// jsonNames lists the JSON member names of struct v, embedded ones
// included.
func jsonNames(t *testing.T, v any) []string {
	t.Helper()
	var names []string
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case f.Anonymous && name == "":
				walk(f.Type)
			case name != "" && name != "-":
				names = append(names, name)
			}
		}
	}
	walk(reflect.TypeOf(v))
	require.NotEmpty(t, names, "%T has no JSON members", v)
	return names
}

// TestJSONWorkdir: the documents of launch, status, destroy and
// restore-state with a real OpenTofu, as golden files, parsed back:
// a launch, a launch refused by a truncated state, restore-state without
// and with --yes, destroy.
func TestJSONWorkdir(t *testing.T) {
	noAWS(t)
	tofuEnv(t)
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	dirs := strings.NewReplacer(work, "<workdir>")
	common := []string{"--workdir", work, "--terraform", tofutest.Binary(t), "--json"}
	env := map[string]string{"ALLOCATOR_SG_ID": sg, "LABLINK_AGENT_TOKEN": testkit.AgentToken, "LABLINK_REGISTER_TOKEN": testkit.RegisterToken}
	run := func(name string, code int, args ...string) string {
		t.Helper()
		if args[0] == "restore-state" {
			args = append(args, "--workdir", work, "--json")
		} else {
			args = append(args, common...)
		}
		r := runCLI(t, env, args...)
		require.Equal(t, code, r.code, "%s: %v", name, r)
		if name != "" {
			golden(t, name, r.stdout, dirs)
		}
		return r.stdout
	}
	launch := []string{"launch", "--gpu", "catalog", "--allocator-ip", ip, "--count"}

	r := runCLI(t, env, "status", "--workdir", dir, "--json")
	require.Equal(t, exitOK, r.code, "%v", r)
	golden(t, "status-no-module", r.stdout, strings.NewReplacer(dir, "<dir>"))
	assert.False(t, parseDoc[statusDoc](t, r.stdout).Module)

	doc := parseDoc[launchDoc](t, run("launch", exitOK, append(launch, "2")...))
	assert.Equal(t, []int{0, 2, 2}, []int{doc.Existing, doc.Requested, doc.Total})
	assert.Equal(t, 2, doc.Plan.Add)
	run("", exitOK, append(launch, "1")...)

	st := parseDoc[statusDoc](t, run("status", exitOK, "status"))
	require.Len(t, st.VMs, 3)
	for i, vm := range st.VMs {
		assert.Equal(t, i, vm.Index)
		assert.Equal(t, fmt.Sprintf("sleap-lablink-client-prod-vm-%d", i+1), vm.Name)
		assert.Equal(t, fmt.Sprintf("terraform_data.lablink_vm[%d]", i), vm.Address)
		assert.NotEmpty(t, vm.ID)
	}
	require.NotNil(t, st.Last)
	assert.Equal(t, audit.OutcomeSucceeded, st.Last.Outcome)
	assert.Nil(t, st.StateProblem)

	truncateState(t, work, 100)
	doc = parseDoc[launchDoc](t, run("launch-refused", exitFailure, append(launch, "1")...))
	require.NotNil(t, doc.Error)
	assert.Equal(t, filepath.Join(work, "terraform.tfstate"), doc.Error.File)
	st = parseDoc[statusDoc](t, run("status-refused", exitOK, "status"))
	require.NotNil(t, st.StateProblem)
	require.NotNil(t, st.StateProblem.Copy)
	assert.Equal(t, 2, st.StateProblem.Copy.Resources, "the copy kept before the launch of 1")

	rs := parseDoc[restoreDoc](t, run("restore-state-dry", exitInvalid, "restore-state"))
	assert.False(t, rs.Restored)
	require.NotNil(t, rs.Error)
	assert.Equal(t, "--yes", rs.Error.Field)
	assert.Equal(t, []string{"terraform_data.lablink_vm[0]", "terraform_data.lablink_vm[1]"}, rs.Added)
	assert.Equal(t, 100, rs.Current.Bytes)
	rs = parseDoc[restoreDoc](t, run("restore-state", exitOK, "restore-state", "--yes"))
	assert.True(t, rs.Restored)
	assert.FileExists(t, rs.Replaced)

	d := parseDoc[destroyDoc](t, run("destroy", exitOK, "destroy", "--yes"))
	assert.Equal(t, 2, d.Destroyed, "the VMs of the restored state")
	assert.Equal(t, "prod", d.Environment)
}
