package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
)

// errorCase is one refused command: its exit status and exact stderr,
// and the input its JSON error names. In args, env and the wanted texts
// {work} stands for a working directory that must not exist afterwards
// (nothing written), {config} for a config file with an unknown key.
type errorCase struct {
	name   string
	args   []string
	env    map[string]string
	code   int
	stderr string
	// field is the JSON error's field; "" when it names none.
	field string
	// problems, when several, is how many the JSON error lists.
	problems int
}

// launchArgs are the flags of a launch that gets past every check but
// the one a case breaks.
func launchArgs(more ...string) []string {
	return append([]string{"launch", "--count", "1", "--workdir", "{work}", "--gpu", "catalog"}, more...)
}

func errorCases() []errorCase {
	const noWork = "--workdir {work}: no such directory; give the working directory of an earlier launch"
	sgEnv := map[string]string{"ALLOCATOR_SG_ID": sg}
	return []errorCase{
		// The user's own input, by the name the user gave it.
		{name: "IP by flag", args: launchArgs("--allocator-ip", "999.1.1.1"), env: sgEnv, code: exitInvalid,
			stderr: `launch: --allocator-ip: "999.1.1.1" is not an IP address`, field: "--allocator-ip"},
		{name: "IP by environment", args: launchArgs(), env: map[string]string{"ALLOCATOR_PUBLIC_IP": "999.1.1.1", "ALLOCATOR_SG_ID": sg},
			code: exitInvalid, stderr: `launch: ALLOCATOR_PUBLIC_IP: "999.1.1.1" is not an IP address`, field: "ALLOCATOR_PUBLIC_IP"},
		{name: "flag over a sound variable", args: launchArgs("--allocator-ip", "not-an-ip"),
			env: map[string]string{"ALLOCATOR_PUBLIC_IP": ip, "ALLOCATOR_SG_ID": sg}, code: exitInvalid,
			stderr: `launch: --allocator-ip: "not-an-ip" is not an IP address`, field: "--allocator-ip"},
		{name: "no IP", args: launchArgs(), env: sgEnv, code: exitInvalid,
			stderr: "launch: no allocator IP: pass --allocator-ip or set ALLOCATOR_PUBLIC_IP to the allocator's public IP", field: "--allocator-ip"},
		{name: "environment by flag", args: launchArgs("--allocator-ip", ip, "--environment", "a/b"), env: sgEnv, code: exitInvalid,
			stderr: `launch: --environment: "a/b" is not an environment name of lowercase letters, digits and inner hyphens, such as prod`,
			field:  "--environment"},
		{name: "FQDN by flag", args: launchArgs("--allocator-ip", ip, "--fqdn", "http://a/b"), env: sgEnv, code: exitInvalid,
			stderr: `launch: --fqdn: invalid FQDN "http://a/b": path not allowed`, field: "--fqdn"},
		{name: "FQDN by environment", args: launchArgs("--allocator-ip", ip), env: map[string]string{"ALLOCATOR_FQDN": "http://a/b", "ALLOCATOR_SG_ID": sg},
			code: exitInvalid, stderr: `launch: ALLOCATOR_FQDN: invalid FQDN "http://a/b": path not allowed`, field: "ALLOCATOR_FQDN"},
		{name: "log group by flag", args: launchArgs("--allocator-ip", ip, "--log-group", "x y"), env: sgEnv, code: exitInvalid,
			stderr: `launch: --log-group: "x y" holds white space; write a CloudWatch log group name of letters, digits, '_', '/', '.', '#' and '-'`,
			field:  "--log-group"},
		{name: "security group by flag", args: launchArgs("--allocator-ip", ip, "--allocator-sg-id", "sg-1"), code: exitInvalid,
			stderr: `launch: --allocator-sg-id: "sg-1" is not a security group id such as sg-0123456789abcdef0`, field: "--allocator-sg-id"},
		{name: "no security group", args: launchArgs("--allocator-ip", ip), code: exitInvalid,
			stderr: "launch: " + noSGMessage, field: "--allocator-sg-id"},
		{name: "several problems", args: launchArgs("--allocator-ip", "999.1.1.1"), env: map[string]string{"ALLOCATOR_SG_ID": "sg-1"},
			code: exitInvalid, problems: 2, stderr: "launch: --allocator-ip: \"999.1.1.1\" is not an IP address\n" +
				`launch: ALLOCATOR_SG_ID: "sg-1" is not a security group id such as sg-0123456789abcdef0`},
		{name: "config key", args: launchArgs("--allocator-ip", ip, "--config", "{config}"), env: sgEnv, code: exitInvalid,
			stderr: "launch: {config}:{line}: machine.machine_typo: unknown key; did you mean machine_type?", field: "machine.machine_typo"},
		{name: "config file missing", args: launchArgs("--allocator-ip", ip, "--config", "{work}.yaml"), env: sgEnv, code: exitInvalid,
			stderr: "launch: --config {work}.yaml: load config: open {work}.yaml: no such file or directory", field: "--config"},

		// The request, before anything is written.
		{name: "count beyond --max-count", args: []string{"launch", "--count", "100000", "--workdir", "{work}", "--allocator-ip", ip},
			env: sgEnv, code: exitInvalid, field: "--count",
			stderr: "launch: --count 100000: one launch adds at most 500 VMs (--max-count); ask for fewer, or raise --max-count"},
		{name: "count beyond the module", args: []string{"launch", "--count", "1025", "--max-count", "5000", "--workdir", "{work}", "--allocator-ip", ip, "--gpu", "catalog"},
			env: sgEnv, code: exitInvalid, field: "--count",
			stderr: "launch: --count 1025: the module holds at most 1024 VMs in all (OpenTofu's range() over instance_count); ask for at most 1024"},
		{name: "count zero", args: []string{"launch", "--count", "0", "--workdir", "{work}"}, code: exitInvalid, field: "--count",
			stderr: "launch: --count 0: want at least 1"},
		{name: "no count", args: []string{"launch", "--workdir", "{work}"}, code: exitInvalid, field: "--count",
			stderr: "launch: --count is required: how many client VMs to add"},
		{name: "no workdir", args: []string{"launch", "--count", "1"}, code: exitInvalid, field: "--workdir",
			stderr: "launch: --workdir is required: the OpenTofu working directory of the client VMs"},
		{name: "unknown module", args: launchArgs("--allocator-ip", ip, "--module", "gcp"), env: sgEnv, code: exitInvalid, field: "--module",
			stderr: `launch: --module: terraform module "gcp": want aws, local or a directory holding *.tf files: unknown module`},
		{name: "no binary", args: launchArgs("--allocator-ip", ip, "--terraform", "{work}-tofu"), env: sgEnv, code: exitInvalid, field: "--terraform",
			stderr: "launch: --terraform: opentofu binary: stat {work}-tofu: no such file or directory"},
		{name: "unknown flag", args: []string{"launch", "--nope"}, code: exitInvalid, field: "--nope",
			stderr: "flag provided but not defined: -nope\n" + "usage: lablink launch --count N --workdir DIR [flags]"},

		// Commands on a working directory.
		{name: "status of a mistyped workdir", args: []string{"status", "--workdir", "{work}"}, code: exitInvalid, field: "--workdir",
			stderr: "status: " + noWork},
		{name: "destroy of a mistyped workdir", args: []string{"destroy", "--workdir", "{work}", "--yes"}, code: exitInvalid, field: "--workdir",
			stderr: "destroy: " + noWork},
		{name: "destroy off a terminal", args: []string{"destroy", "--workdir", "."}, code: exitInvalid, field: "--yes",
			stderr: "destroy: no terminal to confirm on (stdin is not one): pass --yes to destroy without asking"},
		{name: "restore-state without workdir", args: []string{"restore-state"}, code: exitInvalid, field: "--workdir",
			stderr: "restore-state: --workdir is required: the working directory whose state launch refused"},
		{name: "restore-state of a mistyped workdir", args: []string{"restore-state", "--workdir", "{work}"}, code: exitInvalid,
			field: "--workdir", stderr: "restore-state: " + noWork},

		// The other commands.
		{name: "render format", args: []string{"render", "--allocator-ip", ip, "--format", "yaml"}, code: exitInvalid, field: "--format",
			stderr: `render: --format "yaml": want hcl or json`},
		{name: "render gpu", args: []string{"render", "--allocator-ip", ip, "--gpu", "maybe"}, env: sgEnv, code: exitInvalid, field: "--gpu",
			stderr: `render: --gpu "maybe": want auto, catalog, true or false`},
		{name: "render argument", args: []string{"render", "extra"}, code: exitInvalid, field: "extra",
			stderr: `render: unexpected argument "extra": lablink render takes flags only (run with -h for them)`},
		{name: "audit without store", args: []string{"audit", "list"}, code: exitInvalid, field: "--store",
			stderr: "audit list: --store is required: s3://BUCKET[/PREFIX] or the directory of an audit store, such as WORKDIR/.lablink/audit"},
		{name: "audit show without id", args: []string{"audit", "show", "--store", "{work}"}, code: exitInvalid, field: "LAUNCH_ID",
			stderr: "audit show: want exactly one LAUNCH_ID (audit list shows them), got 0 arguments"},
	}
}

// TestErrorPaths runs every refused command twice, as text and with
// --json: the exit status, stderr exactly (text), the one JSON document
// naming the input (--json), and no file written.
func TestErrorPaths(t *testing.T) {
	noAWS(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	data := strings.Replace(string(exampleConfig), "  machine_type: g4dn.xlarge", "  machine_typo: g4dn.xlarge", 1)
	require.NoError(t, os.WriteFile(config, []byte(data), 0o600))
	_, _, err := lablink.LoadConfig(config)
	var fe *lablink.FieldError
	require.ErrorAs(t, err, &fe)
	line := fe.Line

	for _, tc := range errorCases() {
		for _, asJSON := range []bool{false, true} {
			name := tc.name
			if asJSON {
				name += "/json"
			}
			t.Run(name, func(t *testing.T) {
				work := filepath.Join(t.TempDir(), "work")
				subst := strings.NewReplacer("{work}", work, "{config}", config, "{line}", strconv.Itoa(line))
				args := make([]string, len(tc.args))
				for i, a := range tc.args {
					args[i] = subst.Replace(a)
				}
				if asJSON {
					args = append(args, "--json")
				}
				r := runCLI(t, tc.env, args...)
				require.Equal(t, tc.code, r.code, "%v", r)
				assert.NoFileExists(t, work, "a refused command wrote its workdir")
				assert.NoDirExists(t, work, "a refused command wrote its workdir")
				if !asJSON {
					assert.Empty(t, r.stdout)
					if tc.stderr != "" {
						want := subst.Replace(tc.stderr)
						if strings.HasPrefix(tc.stderr, "flag provided") {
							assert.True(t, strings.HasPrefix(r.stderr, want), "stderr:\n%s", r.stderr)
						} else {
							assert.Equal(t, want+"\n", r.stderr)
						}
					}
					return
				}
				var doc struct {
					Error *errorBody `json:"error"`
				}
				dec := json.NewDecoder(strings.NewReader(r.stdout))
				dec.DisallowUnknownFields()
				require.NoError(t, dec.Decode(&doc), "stdout:\n%s", r.stdout)
				assert.False(t, dec.More(), "one document")
				require.NotNil(t, doc.Error, "stdout:\n%s", r.stdout)
				assert.Equal(t, subst.Replace(tc.field), doc.Error.Field, "field")
				assert.Len(t, doc.Error.Problems, tc.problems, "problems")
				if tc.stderr != "" && !strings.HasPrefix(tc.stderr, "flag provided") {
					var want []string
					for l := range strings.Lines(subst.Replace(tc.stderr)) {
						_, msg, _ := strings.Cut(strings.TrimSuffix(l, "\n"), ": ")
						want = append(want, msg)
					}
					assert.Equal(t, strings.Join(want, "\n"), doc.Error.Message, "the message as stderr says it")
				}
				if tc.field == "machine.machine_typo" {
					assert.Equal(t, config, doc.Error.File)
					assert.Equal(t, line, doc.Error.Line)
				}
			})
		}
	}
}
