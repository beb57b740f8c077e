package clientvars_test

import (
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/tfvars"
)

func schema(t testing.TB, name string) *tfvars.Schema {
	t.Helper()
	fsys, err := terraform.FS(name)
	require.NoError(t, err)
	s, err := tfvars.LoadSchemaFS(fsys, ".")
	require.NoError(t, err)
	return s
}

// upstreamSchema is the shape of upstream's client module of August 2026
// (examples/terraform/testdata/upstream-variables.tf).
func upstreamSchema(t testing.TB) *tfvars.Schema {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "examples", "terraform", "testdata", "upstream-variables.tf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "variables.tf"), src, 0o644))
	s, err := tfvars.LoadSchema(dir)
	require.NoError(t, err)
	return s
}

// testEnv is the environment the tests give the clientvars.
func testEnv() clientvars.Env {
	return clientvars.Env{
		AllocatorIP:   testkit.AllocatorIP,
		AllocatorSGID: testkit.SecurityGroup,
		AgentToken:    testkit.AgentToken,
		RegisterToken: testkit.RegisterToken,
	}
}

// Every variable of our modules has a source; only the two upstream
// declares for compatibility and never reads keep their module default.
func TestBindingsCoverModule(t *testing.T) {
	for _, name := range terraform.Names() {
		t.Run(name, func(t *testing.T) {
			for _, s := range clientvars.Sources(schema(t, name)) {
				switch s.Variable {
				case "ssh_user", "retry_number":
					assert.Equal(t, clientvars.FromModuleDefault, s.Kind, s.Variable)
				default:
					assert.NotEqual(t, clientvars.FromModuleDefault, s.Kind, s.Variable)
					assert.NotEqual(t, clientvars.Unbound, s.Kind, s.Variable)
				}
			}
		})
	}
}

func TestNoDefaultsDrift(t *testing.T) {
	for _, name := range terraform.Names() {
		assert.Empty(t, clientvars.Drift(schema(t, name)), "%s module drifts from the Go defaults", name)
	}
}

// Drift is reported for a module whose default disagrees with DefaultConfig,
// as upstream's t2.medium did.
func TestDriftDetected(t *testing.T) {
	drift := clientvars.Drift(upstreamSchema(t))
	var vars []string
	for _, d := range drift {
		vars = append(vars, d.Variable)
	}
	require.Contains(t, vars, "machine_type")
	for _, d := range drift {
		if d.Variable == "machine_type" {
			assert.Equal(t, `variable "machine_type" defaults to "t2.medium" but machine.machine_type defaults to "g4dn.xlarge"`, d.String())
		}
	}
}

func defaultInputs(t testing.TB) clientvars.Inputs {
	t.Helper()
	in, _, err := clientvars.Resolve(context.Background(), testkit.Config(), testEnv(), gpu.Catalog{})
	require.NoError(t, err)
	in.InstanceCount = 3
	return in
}

func TestValuesFollowTheirSources(t *testing.T) {
	cfg := testkit.Config()
	cfg.Machine.Repository = "https://github.com/talmolab/sleap-tutorial-data.git"
	cfg.StartupScript.SuccessCheck = `test -f "/ready" && echo $(date) ${x}`
	cfg.StartupScript.Enabled, cfg.StartupScript.Path = true, "scripts/start.sh"
	cfg.Environment = "ignored-when-ENVIRONMENT-is-set"
	env := testEnv()
	confDir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(confDir, "scripts"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(confDir, "scripts", "start.sh"), []byte("echo hi\n"), 0o644))
	env.Environment, env.LogGroup, env.ConfigDir = " Test ", "/aws/lablink", confDir
	in, info, err := clientvars.Resolve(context.Background(), cfg, env, gpu.Catalog{})
	require.NoError(t, err)
	assert.True(t, info.HasNVIDIA())
	assert.Equal(t, gpu.SourceCatalog, info.Source)
	in.InstanceCount = 7

	want := map[string]cty.Value{
		"allocator_ip":                cty.StringVal("203.0.113.10"),
		"allocator_url":               cty.StringVal("http://203.0.113.10"),
		"machine_type":                cty.StringVal("g4dn.xlarge"),
		"image_name":                  cty.StringVal("ghcr.io/talmolab/lablink-client-base-image:latest"),
		"repository":                  cty.StringVal("https://github.com/talmolab/sleap-tutorial-data.git"),
		"client_ami_id":               cty.StringVal("ami-00c257e12d6828491"),
		"subject_software":            cty.StringVal("sleap"),
		"resource_prefix":             cty.StringVal("sleap-lablink-client-test"),
		"gpu_support":                 cty.True,
		"cloud_init_output_log_group": cty.StringVal("/aws/lablink"),
		"region":                      cty.StringVal("us-west-2"),
		"startup_on_error":            cty.StringVal("continue"),
		"startup_max_attempts":        cty.NumberIntVal(3),
		"startup_base_delay_seconds":  cty.NumberIntVal(30),
		"startup_success_check_b64":   cty.StringVal(base64.StdEncoding.EncodeToString([]byte(cfg.StartupScript.SuccessCheck))),
		"custom_startup_script_path":  cty.StringVal(filepath.Join(confDir, "scripts", "start.sh")),
		"agent_token":                 cty.StringVal(testkit.AgentToken),
		"register_token":              cty.StringVal(testkit.RegisterToken),
		"allocator_sg_id":             cty.StringVal(testkit.SecurityGroup),
		"instance_count":              cty.NumberIntVal(7),
	}
	for _, name := range []string{"aws", "upstream"} {
		t.Run(name, func(t *testing.T) {
			s := upstreamSchema(t)
			want := maps.Clone(want)
			if name == "aws" {
				s = schema(t, "aws")
				// Ours declares the allocator URL's port; upstream's not.
				want["allocator_port"] = cty.NumberIntVal(80)
			}
			r, err := clientvars.Render(s, in, tfvars.HCL)
			require.NoError(t, err)
			assert.Len(t, r.Values, len(want))
			for k, v := range want {
				assert.True(t, v.RawEquals(r.Values[k]), "%s = %#v, want %#v", k, r.Values[k], v)
			}
		})
	}
}

// Each generation of the client module gets exactly the variables it
// declares: November 2025's resource_suffix and allocator_port, today's
// resource_prefix, tokens and security group.
func TestRenderWritesOnlyDeclaredVariables(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "variables.tf"), []byte(`
variable "allocator_url" { type = string }
variable "allocator_port" { type = number }
variable "resource_suffix" { type = string }
variable "machine_type" {
  type    = string
  default = "g4dn.xlarge"
}
variable "instance_count" { type = number }
variable "extra" {
  type    = string
  default = "kept"
}
`), 0o644))
	s, err := tfvars.LoadSchema(dir)
	require.NoError(t, err)
	in := defaultInputs(t)
	r, err := clientvars.Render(s, in, tfvars.HCL)
	require.NoError(t, err)
	assert.Equal(t, []string{"allocator_port", "allocator_url", "instance_count", "machine_type", "resource_suffix"}, keys(r.Values))
	assert.NotContains(t, string(r.Data), "extra")
	assert.True(t, r.Values["resource_suffix"].RawEquals(cty.StringVal("prod")))
	assert.True(t, r.Values["allocator_port"].RawEquals(cty.NumberIntVal(80)))
}

func keys(m map[string]cty.Value) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// A required variable nothing supplies is an error naming what would
// supply it, all of them at once.
func TestRenderNamesMissingRequired(t *testing.T) {
	in := defaultInputs(t)
	in.AllocatorSGID = ""
	in.Tokens = clientvars.Tokens{}
	_, err := clientvars.Render(upstreamSchema(t), in, tfvars.HCL)
	require.Error(t, err)
	assert.ErrorContains(t, err, `variable "allocator_sg_id": required by the module and not set: set ALLOCATOR_SG_ID (the CLI's --allocator-sg-id)`)
	// Upstream's tokens default to "": missing ones keep that default.
	assert.NotContains(t, err.Error(), "agent_token")

	_, err = clientvars.Render(schema(t, "aws"), in, tfvars.HCL)
	assert.ErrorContains(t, err, `variable "agent_token": required by the module and not set: set LABLINK_AGENT_TOKEN`)
	assert.ErrorContains(t, err, `variable "register_token": required by the module and not set`)
	assert.ErrorContains(t, err, `variable "allocator_sg_id"`)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "variables.tf"), []byte(`variable "mystery" { type = string }`), 0o644))
	s, err := tfvars.LoadSchema(dir)
	require.NoError(t, err)
	_, err = clientvars.Render(s, in, tfvars.HCL)
	assert.ErrorContains(t, err, `variable "mystery": required by the module, and lablink knows no source for it`)
}

// A missing repository is "" in the file, never "None"; a missing log group
// too.
func TestMissingValuesAreEmpty(t *testing.T) {
	r, err := clientvars.Render(schema(t, "aws"), defaultInputs(t), tfvars.HCL)
	require.NoError(t, err)
	assert.NotContains(t, string(r.Data), "None")
	for _, name := range []string{"repository", "cloud_init_output_log_group"} {
		assert.True(t, r.Values[name].RawEquals(cty.StringVal("")), "%s = %#v", name, r.Values[name])
	}
	// gpu_support is a bool in the file, not the string "true"; a disabled
	// startup script leaves custom_startup_script_path to the module.
	assert.Regexp(t, `(?m)^gpu_support +=  ?true$`, string(r.Data))
	assert.NotContains(t, r.Values, "custom_startup_script_path")
}

func TestRenderBothFormats(t *testing.T) {
	in := defaultInputs(t)
	for _, f := range []tfvars.Format{tfvars.HCL, tfvars.JSON} {
		r, err := clientvars.Render(schema(t, "aws"), in, f)
		require.NoError(t, err, f)
		parsed, err := tfvars.Parse(r.Data, f)
		require.NoError(t, err)
		assert.True(t, parsed["instance_count"].Equals(cty.NumberIntVal(3)).True(),
			"format %v: instance_count written into the file, not passed as -var", f)
	}
}

// Verification reads each config-bound expectation from the config by its
// YAML path, so a binding that alters a value fails the render, naming the
// variable and the field.
func TestVerifyDoesNotTrustTheBindings(t *testing.T) {
	in := defaultInputs(t)
	in.Config.Machine.Software = "SLEAP"
	restore := clientvars.SetBindingValue("subject_software", func(in *clientvars.Inputs) cty.Value {
		return cty.StringVal(strings.ToLower(in.Config.Machine.Software))
	})
	_, err := clientvars.Render(schema(t, "aws"), in, tfvars.HCL)
	restore()
	assert.ErrorContains(t, err, `subject_software = "sleap" but machine.software = "SLEAP"`)

	in.Config.Machine.Software = "sleap"
	t.Cleanup(clientvars.SetBindingValue("startup_success_check_b64", func(in *clientvars.Inputs) cty.Value {
		return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(strings.TrimSpace(in.Config.StartupScript.SuccessCheck))))
	}))
	in.Config.StartupScript.SuccessCheck = "test -f /ready\n"
	_, err = clientvars.Render(schema(t, "aws"), in, tfvars.HCL)
	assert.ErrorContains(t, err, "but base64 of startup_script.success_check")
}

func TestVerifyNamesVariableAndField(t *testing.T) {
	in := defaultInputs(t)
	r, err := clientvars.Render(schema(t, "aws"), in, tfvars.HCL)
	require.NoError(t, err)
	tampered := strings.Replace(string(r.Data), `"g4dn.xlarge"`, `"t2.medium"`, 1)
	err = clientvars.VerifyFile([]byte(tampered), in, r.Values)
	assert.ErrorContains(t, err, `machine_type = "t2.medium" but machine.machine_type = "g4dn.xlarge"`)
	tampered = strings.Replace(string(r.Data), "sleap-lablink-client-prod", "sleap-lablink-client-test", 1)
	err = clientvars.VerifyFile([]byte(tampered), in, r.Values)
	assert.ErrorContains(t, err, `resource_prefix = "sleap-lablink-client-test" but machine.software + environment = "sleap-lablink-client-prod"`)
}

type failingDetector struct{ err error }

func (f failingDetector) Detect(context.Context, string) (gpu.Info, error) { return gpu.Info{}, f.err }

// withScript is the test config with an enabled startup script at path.
func withScript(path string) lablink.Config {
	c := testkit.Config()
	c.StartupScript.Enabled, c.StartupScript.Path = true, path
	return c
}

func TestResolveErrors(t *testing.T) {
	apiDown := errors.New("ec2: 503 service unavailable")
	bad := testkit.Config()
	bad.Machine.MachineType = "$(reboot)"
	with := func(edit func(*clientvars.Env)) clientvars.Env {
		e := testEnv()
		edit(&e)
		return e
	}
	tests := []struct {
		name string
		cfg  lablink.Config
		env  clientvars.Env
		gpus clientvars.GPUDetector
		want []string
		is   error
	}{
		{"invalid config names the path", bad, testEnv(), gpu.Catalog{},
			[]string{"machine.machine_type"}, lablink.ErrInvalidValue},
		{"bad environment", testkit.Config(), with(func(e *clientvars.Env) { e.Environment = "a;b" }), gpu.Catalog{},
			[]string{"ENVIRONMENT"}, nil},
		{"bad log group", testkit.Config(), with(func(e *clientvars.Env) { e.LogGroup = "x$(id)" }), gpu.Catalog{},
			[]string{"CLOUD_INIT_LOG_GROUP"}, nil},
		{"bad IP", testkit.Config(), with(func(e *clientvars.Env) { e.AllocatorIP = "1.2.3" }), gpu.Catalog{},
			[]string{"ALLOCATOR_PUBLIC_IP"}, nil},
		{"bad security group", testkit.Config(), with(func(e *clientvars.Env) { e.AllocatorSGID = "sg-1; id" }), gpu.Catalog{},
			[]string{"ALLOCATOR_SG_ID"}, nil},
		{"bad tokens, never echoed", testkit.Config(), with(func(e *clientvars.Env) { e.AgentToken, e.RegisterToken = "short", "has space in it, sixteen+" }), gpu.Catalog{},
			[]string{"LABLINK_AGENT_TOKEN", "LABLINK_REGISTER_TOKEN"}, nil},
		{"missing IP, with the other problems", testkit.Config(), with(func(e *clientvars.Env) { e.AllocatorIP, e.Environment = "", "a;b" }), gpu.Catalog{},
			[]string{"ALLOCATOR_PUBLIC_IP is not set", "ENVIRONMENT"}, nil},
		{"GPU API failure is an error, never no GPU", testkit.Config(), testEnv(),
			failingDetector{apiDown}, []string{"503"}, apiDown},
		{"missing startup script names its path", withScript("no-such-script.sh"), testEnv(), gpu.Catalog{},
			[]string{"startup_script.path", "no-such-script.sh"}, lablink.ErrInvalidValue},
		{"startup script that is a directory", withScript("."), testEnv(), gpu.Catalog{},
			[]string{"startup_script.path", "not a regular file"}, lablink.ErrInvalidValue},
		{"unknown instance type", testkit.Config(), testEnv(),
			failingDetector{gpu.ErrUnknownInstanceType}, nil, gpu.ErrUnknownInstanceType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := clientvars.Resolve(context.Background(), tt.cfg, tt.env, tt.gpus)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.ErrorContains(t, err, w)
			}
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.NotContains(t, err.Error(), "short")
			assert.NotContains(t, err.Error(), "has space")
		})
	}
}

// The environment is ENVIRONMENT when set, else the config's, else prod,
// everywhere it is used: resource names and the audit trail's key.
func TestResolveEnvironment(t *testing.T) {
	for _, tt := range []struct{ config, env, want string }{
		{"", "", "prod"}, {"test", "", "test"}, {"test", "ci-test", "ci-test"},
	} {
		cfg := testkit.Config()
		cfg.Environment = tt.config
		env := testEnv()
		env.Environment = tt.env
		in, _, err := clientvars.Resolve(context.Background(), cfg, env, gpu.Catalog{})
		require.NoError(t, err)
		assert.Equal(t, tt.want, in.Environment)
		r, err := clientvars.Render(schema(t, "aws"), in, tfvars.HCL)
		require.NoError(t, err)
		assert.True(t, r.Values["resource_prefix"].RawEquals(cty.StringVal("sleap-lablink-client-"+tt.want)))
	}
}

func TestSources(t *testing.T) {
	got := map[string]clientvars.Source{}
	for _, s := range clientvars.Sources(upstreamSchema(t)) {
		got[s.Variable] = s
	}
	assert.Equal(t, clientvars.FromConfig, got["machine_type"].Kind)
	assert.Equal(t, "machine.machine_type", got["machine_type"].From)
	assert.Contains(t, got["machine_type"].Drift, "t2.medium")
	assert.Equal(t, clientvars.FromSecret, got["agent_token"].Kind)
	assert.Equal(t, clientvars.FromEnvironment, got["allocator_sg_id"].Kind)
	assert.True(t, got["allocator_sg_id"].Required)
	assert.Equal(t, clientvars.FromDerived, got["resource_prefix"].Kind)
	assert.Equal(t, clientvars.FromRequest, got["instance_count"].Kind)
	assert.Equal(t, clientvars.FromModuleDefault, got["ssh_user"].Kind)
}

func TestWorkdirTokens(t *testing.T) {
	dir := t.TempDir()
	a, err := clientvars.WorkdirTokens(dir)
	require.NoError(t, err)
	assert.Regexp(t, `^[A-Za-z0-9_-]{43}$`, a.Agent)
	assert.Regexp(t, `^[A-Za-z0-9_-]{43}$`, a.Register)
	assert.NotEqual(t, a.Agent, a.Register)
	b, err := clientvars.WorkdirTokens(dir)
	require.NoError(t, err)
	assert.Equal(t, a, b, "a second call (a restart) reuses the tokens")
	fi, err := os.Stat(filepath.Join(dir, ".lablink", "tokens.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	other, err := clientvars.WorkdirTokens(t.TempDir())
	require.NoError(t, err)
	assert.NotEqual(t, a, other, "each working directory has its own")

	// Concurrent first calls agree on one pair.
	dir = t.TempDir()
	got := make(chan clientvars.Tokens, 8)
	for range 8 {
		go func() {
			tok, err := clientvars.WorkdirTokens(dir)
			assert.NoError(t, err)
			got <- tok
		}()
	}
	first := <-got
	for range 7 {
		assert.Equal(t, first, <-got)
	}

	require.NoError(t, os.WriteFile(filepath.Join(dir, ".lablink", "tokens.json"), []byte(`{"agent_token":"x y","register_token":""}`), 0o600))
	_, err = clientvars.WorkdirTokens(dir)
	assert.Error(t, err)
}
