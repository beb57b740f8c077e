package main

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/internal/ec2fake"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/tfvars"
)

// ip and sg are the allocator's public IP and security group the tests
// pass; otherSG is a second well-formed group id.
const (
	ip      = testkit.AllocatorIP
	sg      = testkit.SecurityGroup
	otherSG = "sg-0fedcba9876543210"
)

// tokenFormat is a token of clientvars.WorkdirTokens: 32 random bytes,
// base64url without padding.
var tokenFormat = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// tokenNote is the start of what render says when it made the tokens.
const tokenNote = "render: agent and register tokens made for this file alone"

// result is what one in-process run produced.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the CLI in-process with env as its whole environment (as
// seen through getenv; the AWS SDK reads the real one, see noAWS).
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := run(t.Context(), args, strings.NewReader(""), &out, &errb, getenv)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// noAWS makes the real process environment hold no AWS configuration, so
// nothing of the machine running the tests reaches the SDK, and turns the
// instance metadata client off, so that no command probes IMDS for the
// security group. Tests that call it cannot run in parallel.
func noAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_EC2", "AWS_CA_BUNDLE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// fakeEC2 points the SDK's standard chain at a fake EC2 endpoint with
// static credentials.
func fakeEC2(t *testing.T) *ec2fake.Server {
	t.Helper()
	noAWS(t)
	srv := ec2fake.New(t)
	srv.AddDefaults()
	t.Setenv("AWS_ENDPOINT_URL_EC2", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
	return srv
}

// tofuEnv gives the OpenTofu processes the CLI starts, which inherit this
// process's environment, the TF_* variables of tofutest.Env. Tests that
// call it cannot run in parallel.
func tofuEnv(t *testing.T) {
	t.Helper()
	for _, kv := range tofutest.Env(t) {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TF_") || k == "CHECKPOINT_DISABLE" {
			t.Setenv(k, v)
		}
	}
}

func parseTFVars(t *testing.T, data []byte, f tfvars.Format) map[string]cty.Value {
	t.Helper()
	vals, err := tfvars.Parse(data, f)
	require.NoError(t, err, "parse rendered tfvars:\n%s", data)
	return vals
}

func str(t *testing.T, vals map[string]cty.Value, name string) string {
	t.Helper()
	v, ok := vals[name]
	require.True(t, ok && v.Type() == cty.String, "%s = %#v, want a string", name, v)
	return v.AsString()
}

func num(t *testing.T, vals map[string]cty.Value, name string) int64 {
	t.Helper()
	v, ok := vals[name]
	require.True(t, ok && v.Type() == cty.Number, "%s = %#v, want a number", name, v)
	i, _ := v.AsBigFloat().Int64()
	return i
}

func boolean(t *testing.T, vals map[string]cty.Value, name string) bool {
	t.Helper()
	v, ok := vals[name]
	require.True(t, ok && v.Type() == cty.Bool, "%s = %#v, want a bool", name, v)
	return v.True()
}

// rendered runs render with args, requires it to succeed and returns the
// values it wrote on stdout.
func rendered(t *testing.T, env map[string]string, args ...string) (map[string]cty.Value, result) {
	t.Helper()
	r := runCLI(t, env, append([]string{"render"}, args...)...)
	require.Equal(t, exitOK, r.code, "%v", r)
	return parseTFVars(t, []byte(r.stdout), tfvars.HCL), r
}

// declared returns the names of the variables s declares, in order.
func declared(t *testing.T, s *tfvars.Schema) []string {
	t.Helper()
	var names []string
	for _, v := range s.Variables() {
		names = append(names, v.Name)
	}
	return names
}

func embeddedSchema(t *testing.T) *tfvars.Schema {
	t.Helper()
	fsys, err := terraform.FS("aws")
	require.NoError(t, err)
	s, err := tfvars.LoadSchemaFS(fsys, ".")
	require.NoError(t, err)
	return s
}

// writeConfig writes a config.yaml that differs from the embedded one in
// the lines of edits ("machine_type: g4dn.xlarge" -> "machine_type: x").
func writeConfig(t *testing.T, edits ...string) string {
	t.Helper()
	s := string(exampleConfig)
	for i := 0; i+1 < len(edits); i += 2 {
		require.Contains(t, s, edits[i], "embedded config")
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	p := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(p, []byte(s), 0o600))
	return p
}

func TestEmbeddedConfigValidates(t *testing.T) {
	cfg, warns, err := lablink.ParseConfig(exampleConfig)
	require.NoError(t, err)
	assert.Empty(t, warns, "the embedded config must hold today's keys only")
	assert.NoError(t, cfg.Validate())
}

func TestRenderEmbeddedConfig(t *testing.T) {
	noAWS(t)
	vals, r := rendered(t, nil, "--allocator-ip", ip, "--allocator-sg-id", sg, "--gpu", "catalog", "--count", "3")
	cfg, _, err := lablink.ParseConfig(exampleConfig)
	require.NoError(t, err)

	// The file holds every variable of the embedded module that lablink
	// binds: not ssh_user and retry_number (module defaults), not
	// custom_startup_script_path (the script is disabled), not launch_id
	// and inventory_dir (nothing binds them yet), nor the old contract's
	// resource_suffix; allocator_port, which the module declares again.
	want := []string{
		"allocator_ip", "allocator_url", "allocator_port", "machine_type", "image_name", "repository", "client_ami_id",
		"subject_software", "resource_prefix", "gpu_support", "cloud_init_output_log_group", "region",
		"startup_on_error", "startup_max_attempts", "startup_base_delay_seconds", "startup_success_check_b64",
		"agent_token", "register_token", "allocator_sg_id", "instance_count",
	}
	assert.ElementsMatch(t, want, slices.Collect(maps.Keys(vals)))
	assert.Subset(t, declared(t, embeddedSchema(t)), want, "only declared variables")

	got := map[string]any{
		"allocator_ip":     str(t, vals, "allocator_ip"),
		"allocator_url":    str(t, vals, "allocator_url"),
		"allocator_port":   num(t, vals, "allocator_port"),
		"machine_type":     str(t, vals, "machine_type"),
		"image_name":       str(t, vals, "image_name"),
		"repository":       str(t, vals, "repository"),
		"client_ami_id":    str(t, vals, "client_ami_id"),
		"region":           str(t, vals, "region"),
		"resource_prefix":  str(t, vals, "resource_prefix"),
		"allocator_sg_id":  str(t, vals, "allocator_sg_id"),
		"gpu_support":      boolean(t, vals, "gpu_support"),
		"instance_count":   num(t, vals, "instance_count"),
		"subject_software": str(t, vals, "subject_software"),
	}
	assert.Equal(t, map[string]any{
		"allocator_ip":     ip,
		"allocator_url":    "http://" + ip,
		"allocator_port":   int64(80),
		"machine_type":     cfg.Machine.MachineType,
		"image_name":       cfg.Machine.Image,
		"repository":       cfg.Machine.Repository,
		"client_ami_id":    cfg.Machine.AMIID,
		"region":           cfg.App.Region,
		"resource_prefix":  "sleap-lablink-client-prod",
		"allocator_sg_id":  sg,
		"gpu_support":      true,
		"instance_count":   int64(3),
		"subject_software": cfg.Machine.Software,
	}, got)

	agent, register := str(t, vals, "agent_token"), str(t, vals, "register_token")
	assert.Regexp(t, tokenFormat, agent)
	assert.Regexp(t, tokenFormat, register)
	assert.NotEqual(t, agent, register)

	assert.Contains(t, r.stderr, fmt.Sprintf("render: %d variables, instance_count=3, gpu_support=true (catalog ", len(want)))
	assert.Contains(t, r.stderr, "-> stdout (sha256 ")
}

func TestRenderOut(t *testing.T) {
	noAWS(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		format tfvars.Format
	}{
		{"terraform.runtime.tfvars", tfvars.HCL},
		{"terraform.runtime.tfvars.json", tfvars.JSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name)
			r := runCLI(t, nil, "render", "--allocator-ip", ip, "--allocator-sg-id", sg, "--gpu", "false", "--out", out)
			require.Equal(t, exitOK, r.code, "%v", r)
			assert.Empty(t, r.stdout)
			fi, err := os.Stat(out)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
			data, err := os.ReadFile(out)
			require.NoError(t, err)
			vals := parseTFVars(t, data, tc.format)
			assert.False(t, boolean(t, vals, "gpu_support"), "gpu_support with --gpu false")
			assert.Equal(t, int64(1), num(t, vals, "instance_count"), "instance_count is the default 1")
			assert.Equal(t, sg, str(t, vals, "allocator_sg_id"))
			assert.Contains(t, r.stderr, "gpu_support=false (flag)")
			assert.Contains(t, r.stderr, "-> "+out+" (sha256 ")
		})
	}
}

func TestRenderEnvFallbacks(t *testing.T) {
	noAWS(t)
	env := map[string]string{
		"ALLOCATOR_PUBLIC_IP":  "198.51.100.7",
		"ALLOCATOR_SG_ID":      sg,
		"ENVIRONMENT":          "Test Lab",
		"ALLOCATOR_FQDN":       "https://lab.example.org",
		"CLOUD_INIT_LOG_GROUP": "/lablink/cloud-init",
	}
	tests := []struct {
		name  string
		flags []string
		want  map[string]string
	}{
		{"env only", nil, map[string]string{
			"allocator_ip": "198.51.100.7", "resource_prefix": "sleap-lablink-client-test-lab", "allocator_sg_id": sg,
			"allocator_url": "https://lab.example.org", "cloud_init_output_log_group": "/lablink/cloud-init",
		}},
		{"flags win", []string{"--allocator-ip", ip, "--environment", "dev", "--fqdn", "http://dev.example.org",
			"--log-group", "other", "--allocator-sg-id", otherSG}, map[string]string{
			"allocator_ip": ip, "resource_prefix": "sleap-lablink-client-dev", "allocator_sg_id": otherSG,
			"allocator_url": "http://dev.example.org", "cloud_init_output_log_group": "other",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vals, _ := rendered(t, env, append([]string{"--gpu", "catalog"}, tc.flags...)...)
			got := map[string]string{}
			for k := range tc.want {
				got[k] = str(t, vals, k)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestRenderEnvironment: ENVIRONMENT (or --environment) wins over the
// config's environment key, which wins over "prod".
func TestRenderEnvironment(t *testing.T) {
	t.Parallel()
	testEnv := writeConfig(t, "\nenvironment: prod\n", "\nenvironment: test\n")
	tests := []struct {
		name        string
		config      string // "" for the embedded one (environment: prod)
		environment string // ENVIRONMENT
		flags       []string
		want        string
	}{
		{name: "embedded config", want: "sleap-lablink-client-prod"},
		{name: "config environment", config: testEnv, want: "sleap-lablink-client-test"},
		{name: "ENVIRONMENT wins", config: testEnv, environment: "ci-test", want: "sleap-lablink-client-ci-test"},
		{name: "ENVIRONMENT normalized", config: testEnv, environment: " CI Test ", want: "sleap-lablink-client-ci-test"},
		{name: "blank ENVIRONMENT", config: testEnv, environment: "  ", want: "sleap-lablink-client-test"},
		{name: "flag wins", config: testEnv, environment: "ci-test", flags: []string{"--environment", "dev"},
			want: "sleap-lablink-client-dev"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"ALLOCATOR_PUBLIC_IP": ip, "ALLOCATOR_SG_ID": sg, "ENVIRONMENT": tc.environment}
			args := append([]string{"--gpu", "catalog"}, tc.flags...)
			if tc.config != "" {
				args = append(args, "--config", tc.config)
			}
			vals, _ := rendered(t, env, args...)
			assert.Equal(t, tc.want, str(t, vals, "resource_prefix"))
		})
	}
}

func TestRenderGPUModes(t *testing.T) {
	noAWS(t)
	tests := []struct {
		name     string
		args     []string
		want     bool
		noteWant bool
	}{
		{"catalog", []string{"--gpu", "catalog"}, true, false},
		{"false", []string{"--gpu", "false"}, false, false},
		{"true", []string{"--gpu", "true"}, true, false},
		{"no credentials", nil, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vals, r := rendered(t, nil, append([]string{"--allocator-ip", ip, "--allocator-sg-id", sg}, tc.args...)...)
			assert.Equal(t, tc.want, boolean(t, vals, "gpu_support"))
			note := strings.Contains(r.stderr, "render: no AWS credentials; GPU support from the offline catalog taken 20")
			assert.Equal(t, tc.noteWant, note, "catalog note in:\n%s", r.stderr)
		})
	}
}

func TestRenderGPUAuto(t *testing.T) {
	base := []string{"render", "--allocator-ip", ip, "--allocator-sg-id", sg}
	t.Run("nvidia from the API", func(t *testing.T) {
		srv := fakeEC2(t)
		r := runCLI(t, nil, append(base, "--gpu", "auto")...)
		require.Equal(t, exitOK, r.code, "%v", r)
		assert.True(t, boolean(t, parseTFVars(t, []byte(r.stdout), tfvars.HCL), "gpu_support"), "g4dn.xlarge")
		assert.Contains(t, r.stderr, "gpu_support=true (ec2-api)")
		assert.NotZero(t, srv.Requests(), "the fake EC2 got no request")
	})
	t.Run("default is auto with credentials", func(t *testing.T) {
		srv := fakeEC2(t)
		cfg := writeConfig(t, "machine_type: g4dn.xlarge", "machine_type: t3.medium")
		r := runCLI(t, nil, append(base, "--config", cfg)...)
		require.Equal(t, exitOK, r.code, "%v", r)
		assert.False(t, boolean(t, parseTFVars(t, []byte(r.stdout), tfvars.HCL), "gpu_support"), "t3.medium")
		assert.NotZero(t, srv.Requests(), "did not ask EC2")
		assert.NotContains(t, r.stderr, "catalog")
	})
	t.Run("unknown instance type", func(t *testing.T) {
		fakeEC2(t)
		cfg := writeConfig(t, "machine_type: g4dn.xlarge", "machine_type: zz9.plural")
		r := runCLI(t, nil, append(base, "--config", cfg, "--gpu", "auto")...)
		require.Equal(t, exitInvalid, r.code, "%v", r)
		assert.Contains(t, r.stderr, `machine.machine_type "zz9.plural"`)
		assert.Contains(t, r.stderr, "unknown instance type")
		assert.Empty(t, r.stdout)
	})
	t.Run("API failure", func(t *testing.T) {
		srv := fakeEC2(t)
		t.Setenv("AWS_MAX_ATTEMPTS", "2")
		srv.FailNext(100, 500, "InternalError")
		r := runCLI(t, nil, append(base, "--gpu", "auto")...)
		require.NotEqual(t, exitOK, r.code, "%v", r)
		assert.NotContains(t, r.stdout, "gpu_support", "rendered despite the API failure")
		assert.Contains(t, r.stderr, "gpu_support is never guessed")
		assert.Contains(t, r.stderr, "InternalError")
		assert.GreaterOrEqual(t, srv.Requests(), 2, "the retries too")
	})
}

// upstreamModule returns a module directory holding upstream's variables
// (examples/terraform/testdata/upstream-variables.tf as variables.tf) and
// an empty main.tf.
func upstreamModule(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "terraform", "testdata", "upstream-variables.tf"))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "variables.tf"), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), nil, 0o644))
	return dir
}

// tofuPlan runs a real `tofu plan` of the module in dir with varFile and
// returns its combined output.
func tofuPlan(t *testing.T, dir, varFile string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), tofutest.Binary(t), "plan", "-input=false", "-no-color", "-lock=false",
		"-var-file="+varFile)
	cmd.Dir = dir
	cmd.Env = tofutest.Env(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "tofu plan:\n%s", out)
	return string(out)
}

// TestRenderUpstreamModule renders today's embedded config for a module of
// upstream's own variables: only what it declares, with the run-time
// values of today's contract, in a file the real OpenTofu takes without
// an "undeclared variable" warning.
func TestRenderUpstreamModule(t *testing.T) {
	noAWS(t)
	module := upstreamModule(t)
	schema, err := tfvars.LoadSchema(module)
	require.NoError(t, err)
	tokens := map[string]string{
		"LABLINK_AGENT_TOKEN":    testkit.AgentToken,
		"LABLINK_REGISTER_TOKEN": testkit.RegisterToken,
	}

	t.Run("with a security group", func(t *testing.T) {
		vals, r := rendered(t, tokens, "--module", module, "--allocator-ip", ip, "--gpu", "catalog", "--allocator-sg-id", sg)
		names := slices.Collect(maps.Keys(vals))
		assert.Subset(t, declared(t, schema), names, "only declared variables")
		assert.NotContains(t, names, "allocator_port")
		assert.NotContains(t, names, "resource_suffix")
		assert.Equal(t, "sleap-lablink-client-prod", str(t, vals, "resource_prefix"))
		assert.Equal(t, sg, str(t, vals, "allocator_sg_id"))
		assert.Equal(t, testkit.AgentToken, str(t, vals, "agent_token"))
		assert.Equal(t, testkit.RegisterToken, str(t, vals, "register_token"))
		assert.NotContains(t, r.stderr, "made for this file alone")
		assert.Contains(t, r.stderr, fmt.Sprintf("render: %d variables,", len(vals)))

		// The file lives outside the module so that OpenTofu reads it only
		// through -var-file.
		varFile := filepath.Join(t.TempDir(), "runtime.tfvars")
		require.NoError(t, os.WriteFile(varFile, []byte(r.stdout), 0o600))
		out := tofuPlan(t, module, varFile)
		assert.NotContains(t, out, "Value for undeclared variable")
		assert.Contains(t, out, "No changes.")

		// The check has teeth: a variable of the old contract draws the
		// warning.
		old := filepath.Join(t.TempDir(), "old.tfvars")
		require.NoError(t, os.WriteFile(old, []byte(r.stdout+"allocator_port = 80\n"), 0o600))
		assert.Contains(t, tofuPlan(t, module, old), "Value for undeclared variable")
	})

	t.Run("without a security group", func(t *testing.T) {
		r := runCLI(t, tokens, "render", "--module", module, "--allocator-ip", ip, "--gpu", "catalog")
		require.Equal(t, exitInvalid, r.code, "%v", r)
		assert.Empty(t, r.stdout)
		assert.Equal(t, "render: "+noSGMessage+"\n", r.stderr)
	})
}

// TestRenderTokens: tokens come from the environment, else from those a
// working directory keeps, else are made for the one file (and render
// says so).
func TestRenderTokens(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ALLOCATOR_PUBLIC_IP": ip, "ALLOCATOR_SG_ID": sg}
	render := func(t *testing.T, env map[string]string, args ...string) (agent, register, stderr string) {
		t.Helper()
		vals, r := rendered(t, env, append([]string{"--gpu", "catalog"}, args...)...)
		return str(t, vals, "agent_token"), str(t, vals, "register_token"), r.stderr
	}

	t.Run("made for this file alone", func(t *testing.T) {
		t.Parallel()
		a1, r1, stderr := render(t, env)
		assert.Contains(t, stderr, tokenNote)
		assert.Contains(t, stderr, "LABLINK_AGENT_TOKEN")
		assert.Contains(t, stderr, "--workdir")
		a2, r2, _ := render(t, env)
		for _, tok := range []string{a1, r1, a2, r2} {
			assert.Regexp(t, tokenFormat, tok)
		}
		assert.NotEqual(t, a1, r1)
		assert.NotEqual(t, a1, a2, "two files without a workdir share a token")
		assert.NotEqual(t, r1, r2, "two files without a workdir share a token")
	})

	t.Run("kept in the workdir", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		a1, r1, stderr1 := render(t, env, "--workdir", dir)
		a2, r2, stderr2 := render(t, env, "--workdir", dir)
		assert.NotContains(t, stderr1, "made for this file alone")
		assert.NotContains(t, stderr2, "made for this file alone")
		assert.Equal(t, a1, a2)
		assert.Equal(t, r1, r2)
		kept, err := clientvars.WorkdirTokens(dir)
		require.NoError(t, err)
		assert.Equal(t, clientvars.Tokens{Agent: a1, Register: r1}, kept)
		fi, err := os.Stat(filepath.Join(dir, ".lablink", "tokens.json"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	})

	t.Run("environment wins over the workdir", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		kept, err := clientvars.WorkdirTokens(dir)
		require.NoError(t, err)
		e := maps.Clone(env)
		e["LABLINK_AGENT_TOKEN"] = testkit.AgentToken
		agent, register, stderr := render(t, e, "--workdir", dir)
		assert.Equal(t, testkit.AgentToken, agent)
		assert.Equal(t, kept.Register, register, "the token the environment leaves unset")
		assert.NotContains(t, stderr, "made for this file alone")

		e["LABLINK_REGISTER_TOKEN"] = testkit.RegisterToken
		agent, register, _ = render(t, e, "--workdir", dir)
		assert.Equal(t, testkit.AgentToken, agent)
		assert.Equal(t, testkit.RegisterToken, register)
	})

	t.Run("one token made", func(t *testing.T) {
		t.Parallel()
		e := maps.Clone(env)
		e["LABLINK_REGISTER_TOKEN"] = testkit.RegisterToken
		agent, register, stderr := render(t, e)
		assert.Regexp(t, tokenFormat, agent)
		assert.Equal(t, testkit.RegisterToken, register)
		assert.Contains(t, stderr, "render: agent token made for this file alone")
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, nil, "validate", "--config", writeConfig(t))
		assert.Equal(t, exitOK, r.code, "%v", r)
		assert.Equal(t, "ok\n", r.stdout)
		assert.Empty(t, r.stderr)
	})
	t.Run("every problem", func(t *testing.T) {
		t.Parallel()
		cfg := writeConfig(t,
			"provider: none", "provider: nginx",
			"machine_type: g4dn.xlarge", `machine_type: "g4dn.xlarge; rm -rf /"`,
			"on_error: continue", "on_error: panic",
		)
		r := runCLI(t, nil, "validate", "--config", cfg)
		require.Equal(t, exitInvalid, r.code, "%v", r)
		var paths []string
		for l := range strings.Lines(strings.TrimSpace(r.stdout)) {
			// config.yaml:LINE: PATH: problem
			parts := strings.SplitN(l, ": ", 3)
			require.Len(t, parts, 3, "problem line %q", l)
			paths = append(paths, parts[1])
		}
		assert.Equal(t, []string{"machine.machine_type", "ssl.provider", "startup_script.on_error"}, paths, "stdout:\n%s", r.stdout)
	})
	t.Run("unknown key", func(t *testing.T) {
		t.Parallel()
		cfg := writeConfig(t, "  machine_type: g4dn.xlarge", "  machine_typo: g4dn.xlarge")
		r := runCLI(t, nil, "validate", "--config", cfg)
		require.Equal(t, exitInvalid, r.code, "%v", r)
		line := 1 + strings.Count(string(exampleConfig[:bytes.Index(exampleConfig, []byte("  machine_type:"))]), "\n")
		assert.Regexp(t, `config\.yaml:`+strconv.Itoa(line)+`: machine\.machine_typo: unknown key`, r.stdout)
	})
}

// TestValidateGenerations: the file of every upstream schema generation is
// valid, each deprecated key a warning on stderr; the files today's rules
// refuse are invalid, naming the field.
func TestValidateGenerations(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "generations", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	warned := map[string]int{}
	for _, f := range files {
		_, warns, err := lablink.LoadConfig(f)
		require.NoError(t, err, "%s must load", f)
		warned[filepath.Base(f)] = len(warns)

		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, "validate", "--config", f)
			require.Equal(t, exitOK, r.code, "%v", r)
			assert.Equal(t, "ok\n", r.stdout)
			var want []string
			for _, w := range warns {
				want = append(want, "warning: "+w.String())
			}
			var got []string
			for l := range strings.Lines(r.stderr) {
				got = append(got, strings.TrimSuffix(l, "\n"))
			}
			assert.Equal(t, want, got, "one warning line per deprecated key")
		})
	}
	// Not vacuous: the oldest generation sets removed keys, today's none.
	assert.NotZero(t, warned["2025-11.yaml"], "deprecated keys of 2025-11.yaml")
	assert.Zero(t, warned["2026-08.yaml"], "deprecated keys of 2026-08.yaml")

	refused, err := filepath.Glob(filepath.Join("..", "..", "testdata", "refused", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, refused)
	first := regexp.MustCompile(`^# refused: ([a-z_.]+): `)
	for _, f := range refused {
		t.Run("refused/"+filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			m := first.FindSubmatch(data)
			require.NotNil(t, m, "%s: first line must be # refused: PATH: ...", f)
			path := string(m[1])

			r := runCLI(t, nil, "validate", "--config", f)
			require.Equal(t, exitInvalid, r.code, "%v", r)
			assert.NotContains(t, r.stdout, "ok\n")
			assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(f)+`:\d+: `+regexp.QuoteMeta(path)+`: `, r.stdout)
		})
	}
}

// defaultsRow is one row of the table "defaults" prints.
type defaultsRow struct {
	Variable, Source, From, Default, Drift string
}

// parseDefaults parses the table "defaults" prints, checking its header,
// and returns its rows in order.
func parseDefaults(t *testing.T, out string) []defaultsRow {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Regexp(t, `^VARIABLE\s+SOURCE\s+FROM\s+MODULE DEFAULT\s+DRIFT$`, lines[0], "header")
	sep := regexp.MustCompile(`\s{2,}`)
	var rows []defaultsRow
	for _, l := range lines[1:] {
		f := sep.Split(l, -1)
		require.Len(t, f, 5, "row %q", l)
		rows = append(rows, defaultsRow{f[0], f[1], f[2], f[3], f[4]})
	}
	return rows
}

func rowOf(t *testing.T, rows []defaultsRow, variable string) defaultsRow {
	t.Helper()
	for _, r := range rows {
		if r.Variable == variable {
			return r
		}
	}
	require.Failf(t, "no row", "no row for %s in %v", variable, rows)
	return defaultsRow{}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	t.Run("embedded aws module", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, nil, "defaults")
		require.Equal(t, exitOK, r.code, "%v", r)
		rows := parseDefaults(t, r.stdout)
		var names []string
		for _, row := range rows {
			names = append(names, row.Variable)
			assert.Equal(t, "-", row.Drift, "%s drifts", row.Variable)
			assert.NotEqual(t, string(clientvars.Unbound), row.Source, "%s is unbound", row.Variable)
		}
		assert.Equal(t, declared(t, embeddedSchema(t)), names, "a row per variable, in the module's order")
		assert.GreaterOrEqual(t, len(rows), 20)
		assert.Equal(t, defaultsRow{"ssh_user", "module default", "-", `"ubuntu"`, "-"}, rowOf(t, rows, "ssh_user"))
		sgRow := rowOf(t, rows, "allocator_sg_id")
		assert.Equal(t, "environment", sgRow.Source)
		assert.Contains(t, sgRow.From, "ALLOCATOR_SG_ID")
		assert.Equal(t, "(required)", sgRow.Default)
		assert.Equal(t, defaultsRow{"machine_type", "config", "machine.machine_type", `"g4dn.xlarge"`, "-"}, rowOf(t, rows, "machine_type"))
	})
	t.Run("upstream module", func(t *testing.T) {
		t.Parallel()
		module := upstreamModule(t)
		r := runCLI(t, nil, "defaults", "--module", module)
		require.Equal(t, exitFailure, r.code, "%v", r)
		rows := parseDefaults(t, r.stdout)
		schema, err := tfvars.LoadSchema(module)
		require.NoError(t, err)
		assert.Len(t, rows, len(schema.Variables()))

		mt := rowOf(t, rows, "machine_type")
		assert.Equal(t, `"t2.medium"`, mt.Default)
		assert.Contains(t, mt.Drift, `"t2.medium"`)
		assert.Contains(t, mt.Drift, `"g4dn.xlarge"`)

		sgRow := rowOf(t, rows, "allocator_sg_id")
		assert.Equal(t, "environment", sgRow.Source)
		assert.Contains(t, sgRow.From, "ALLOCATOR_SG_ID")
		assert.Equal(t, "(required)", sgRow.Default)
		assert.Equal(t, "-", sgRow.Drift)
	})
	t.Run("unbound required variable", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		tf := "variable \"mystery\" {\n  type = string\n}\n\nvariable \"machine_type\" {\n  type    = string\n  default = \"g4dn.xlarge\"\n}\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "variables.tf"), []byte(tf), 0o644))
		r := runCLI(t, nil, "defaults", "--module", dir)
		require.Equal(t, exitFailure, r.code, "%v", r)
		rows := parseDefaults(t, r.stdout)
		assert.Equal(t, []defaultsRow{
			{"mystery", string(clientvars.Unbound), "-", "(required)", "-"},
			{"machine_type", "config", "machine.machine_type", `"g4dn.xlarge"`, "-"},
		}, rows)
	})
}

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no args", nil, exitInvalid},
		{"help", []string{"help"}, exitOK},
		{"-h", []string{"-h"}, exitOK},
		{"render -h", []string{"render", "-h"}, exitOK},
		{"unknown command", []string{"frobnicate"}, exitInvalid},
		{"unknown flag", []string{"render", "--nope"}, exitInvalid},
		{"extra argument", []string{"render", "--allocator-ip", ip, "extra"}, exitInvalid},
		{"bad count", []string{"render", "--allocator-ip", ip, "--count", "0"}, exitInvalid},
		{"bad gpu", []string{"render", "--allocator-ip", ip, "--allocator-sg-id", sg, "--gpu", "maybe"}, exitInvalid},
		{"bad format", []string{"render", "--allocator-ip", ip, "--format", "yaml"}, exitInvalid},
		{"no ip", []string{"render", "--gpu", "catalog", "--allocator-sg-id", sg}, exitInvalid},
		{"bad ip", []string{"render", "--gpu", "catalog", "--allocator-sg-id", sg, "--allocator-ip", "not-an-ip"}, exitInvalid},
		{"bad security group", []string{"render", "--gpu", "catalog", "--allocator-ip", ip, "--allocator-sg-id", "sg-xyz"}, exitInvalid},
		{"launch without count", []string{"launch", "--workdir", "x", "--allocator-ip", ip}, exitInvalid},
		{"launch without workdir", []string{"launch", "--count", "1"}, exitInvalid},
		{"audit without subcommand", []string{"audit"}, exitInvalid},
		{"audit without store", []string{"audit", "list"}, exitInvalid},
		{"missing config", []string{"validate", "--config", "/nonexistent/config.yaml"}, exitInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, tc.args...)
			assert.Equal(t, tc.code, r.code, "%v", r)
		})
	}
	r := runCLI(t, nil, "launch", "--count", "1", "--workdir", t.TempDir(), "--gpu", "catalog")
	assert.Equal(t, exitInvalid, r.code, "%v", r)
	assert.Contains(t, r.stderr, "--allocator-ip", "the missing IP message names the flag")
	assert.Contains(t, r.stderr, "ALLOCATOR_PUBLIC_IP", "the missing IP message names the variable")

	// The usage names the binary as the README builds it, and the exit
	// statuses.
	r = runCLI(t, nil, "help")
	assert.True(t, strings.HasPrefix(r.stdout, "usage: lablink <command> [flags]\n"), "help:\n%s", r.stdout)
	for _, want := range []string{"\n  0  success\n", "\n  1  failure: ", "\n  2  invalid input: ", "restore-state"} {
		assert.Contains(t, r.stdout, want, "help")
	}
	for _, cmd := range [][]string{{"render"}, {"validate"}, {"defaults"}, {"launch"}, {"status"}, {"destroy"},
		{"restore-state"}, {"audit", "list"}, {"audit", "show"}} {
		r := runCLI(t, nil, append(cmd, "-h")...)
		assert.Equal(t, exitOK, r.code, "%v -h: %v", cmd, r)
		assert.True(t, strings.HasPrefix(r.stderr, "usage: lablink "+strings.Join(cmd, " ")+" "), "%v -h:\n%s", cmd, r.stderr)
		assert.Contains(t, r.stderr, "-json", "%v -h", cmd)
		assert.Contains(t, r.stderr, "JSON (--json): ", "%v -h", cmd)
		assert.NotContains(t, r.stderr, "go run", "%v -h", cmd)
	}

	// render -h documents the flags of today's contract.
	r = runCLI(t, nil, "render", "-h")
	for _, flag := range []string{"-allocator-sg-id", "ALLOCATOR_SG_ID", "-workdir", "LABLINK_AGENT_TOKEN"} {
		assert.Contains(t, r.stderr, flag, "render -h")
	}
}

// TestLaunchWithoutSecurityGroup: off EC2, a launch without a security
// group is refused as invalid input before OpenTofu runs and before the
// audit trail records anything.
func TestLaunchWithoutSecurityGroup(t *testing.T) {
	noAWS(t)
	tofuEnv(t)
	work := filepath.Join(t.TempDir(), "work")
	r := runCLI(t, nil, "launch", "--count", "1", "--gpu", "catalog", "--allocator-ip", ip,
		"--workdir", work, "--terraform", tofutest.Binary(t))
	require.Equal(t, exitInvalid, r.code, "%v", r)
	assert.Equal(t, "launch: "+noSGMessage+"\n", r.stderr)
	assert.Empty(t, r.stdout)
	assert.NoDirExists(t, work, "a refused launch wrote into its workdir")
}

// noSGMessage is what render and launch say without a security group.
const noSGMessage = "no allocator security group: the module requires allocator_sg_id; pass --allocator-sg-id or " +
	"set ALLOCATOR_SG_ID to the allocator's security group (on EC2 it is read from instance metadata)"

// TestLaunchStatusDestroy drives a real OpenTofu (or Terraform) through
// the local module.
func TestLaunchStatusDestroy(t *testing.T) {
	noAWS(t)
	bin := tofutest.Binary(t)
	tofuEnv(t)
	work := filepath.Join(t.TempDir(), "work")
	common := []string{"--workdir", work, "--terraform", bin}
	// The security group comes from the environment; status and destroy
	// read the state and the runtime tfvars, and need none.
	sgEnv := map[string]string{"ALLOCATOR_SG_ID": sg}
	launch := func(n string) result {
		t.Helper()
		args := append([]string{"launch", "--count", n, "--gpu", "catalog", "--allocator-ip", ip, "--actor", "tester"}, common...)
		r := runCLI(t, sgEnv, args...)
		require.Equal(t, exitOK, r.code, "launch --count %s: %v", n, r)
		return r
	}

	r := runCLI(t, nil, append([]string{"destroy", "--yes"}, common...)...)
	require.Equal(t, exitInvalid, r.code, "destroy before any launch: %v", r)
	require.Equal(t, "destroy: --workdir "+work+": no such directory; give the working directory of an earlier launch\n", r.stderr)

	launch("2")
	r = launch("3")
	assert.Contains(t, r.stdout, "2 existing + 3 requested = 5 total")
	assert.Contains(t, r.stderr, "progress: 3/3 ", "progress lines")
	for _, want := range []string{"allocator:  http://" + ip, "gpu:        g4dn.xlarge true (catalog", "tfvars:     ",
		"plan:       3 to add, 0 to change, 0 to destroy", "audit:      "} {
		assert.Contains(t, r.stdout, want, "launch summary")
	}

	// The launch used the tokens the workdir keeps, and so does a render
	// for that workdir: a file rendered by hand matches what the VMs got.
	data, err := os.ReadFile(filepath.Join(work, "terraform.runtime.tfvars"))
	require.NoError(t, err)
	applied := parseTFVars(t, data, tfvars.HCL)
	assert.Equal(t, sg, str(t, applied, "allocator_sg_id"))
	assert.Equal(t, "sleap-lablink-client-prod", str(t, applied, "resource_prefix"))
	kept, err := clientvars.WorkdirTokens(work)
	require.NoError(t, err)
	assert.Equal(t, kept, clientvars.Tokens{Agent: str(t, applied, "agent_token"), Register: str(t, applied, "register_token")})
	vals, _ := rendered(t, sgEnv, "--allocator-ip", ip, "--gpu", "catalog", "--workdir", work)
	assert.Equal(t, kept, clientvars.Tokens{Agent: str(t, vals, "agent_token"), Register: str(t, vals, "register_token")})

	r = runCLI(t, nil, append([]string{"status"}, common...)...)
	assert.Equal(t, exitOK, r.code, "status: %v", r)
	assert.Contains(t, r.stdout, "client VMs:     5\n")
	assert.Contains(t, r.stdout, "terraform.runtime.tfvars")
	assert.Regexp(t, `last launch:    \S+ launch succeeded at `, r.stdout)
	assert.Contains(t, r.stdout, "environment:    prod\n")
	assert.Contains(t, r.stdout, "orphans:        0\n")
	rowRE := regexp.MustCompile(`(?m)^  (\d+)\s+sleap-lablink-client-prod-vm-(\d+)\s+\S+\s+\d{8}T\d{6}Z-[0-9a-f]{8}\s+current$`)
	vmRows := rowRE.FindAllStringSubmatch(r.stdout, -1)
	require.Len(t, vmRows, 5, "a row per VM:\n%s", r.stdout)
	for i, row := range vmRows {
		assert.Equal(t, []string{strconv.Itoa(i), strconv.Itoa(i + 1)}, row[1:], "index and name of row %d", i)
	}

	// The module holds 1024 VMs at most: with 5 in the state, 1020 more
	// are refused before the plan, whatever --max-count allows.
	r = runCLI(t, sgEnv, append([]string{"launch", "--count", "1020", "--max-count", "2000", "--gpu", "catalog", "--allocator-ip", ip}, common...)...)
	require.Equal(t, exitInvalid, r.code, "%v", r)
	assert.Equal(t, "launch: --count 1020: the state holds 5 client VMs and the module at most 1024 in all "+
		"(OpenTofu's range() over instance_count); ask for at most 1019\n", r.stderr)

	store := filepath.Join(work, ".lablink", "audit")
	r = runCLI(t, nil, "audit", "list", "--store", store)
	require.Equal(t, exitOK, r.code, "audit list: %v", r)
	rows := regexp.MustCompile(`(?m)^(\S+)\s+\S+\s+launch\s+succeeded\s+(\d+) existing \+ (\d+) requested = (\d+)\s+tester$`).FindAllStringSubmatch(r.stdout, -1)
	require.Len(t, rows, 2, "two succeeded launches:\n%s", r.stdout)
	assert.Equal(t, "2+3=5", rows[0][2]+"+"+rows[0][3]+"="+rows[0][4], "newest launch")

	r = runCLI(t, nil, "audit", "show", "--store", store, rows[1][1])
	assert.Equal(t, exitOK, r.code, "audit show: %v", r)
	assert.Contains(t, r.stdout, `"outcome": "succeeded"`)
	assert.Contains(t, r.stdout, "instance_count")

	r = runCLI(t, nil, append([]string{"destroy", "--yes"}, common...)...)
	require.Equal(t, exitOK, r.code, "destroy: %v", r)
	require.Contains(t, r.stdout, "client VMs: 5 destroyed")
	r = runCLI(t, nil, append([]string{"status"}, common...)...)
	assert.Equal(t, exitOK, r.code, "status after destroy: %v", r)
	assert.Contains(t, r.stdout, "client VMs:     0\n")
}
