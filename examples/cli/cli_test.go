package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/internal/ec2fake"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/tfvars"
)

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
// nothing of the machine running the tests reaches the SDK. Tests that call
// it cannot run in parallel.
func noAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_EC2", "AWS_CA_BUNDLE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
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

func parseTFVars(t *testing.T, data []byte, f tfvars.Format) map[string]cty.Value {
	t.Helper()
	vals, err := tfvars.Parse(data, f)
	if err != nil {
		t.Fatalf("parse rendered tfvars: %v\n%s", err, data)
	}
	return vals
}

func str(t *testing.T, vals map[string]cty.Value, name string) string {
	t.Helper()
	v, ok := vals[name]
	if !ok || v.Type() != cty.String {
		t.Fatalf("%s = %#v, want a string", name, v)
	}
	return v.AsString()
}

func num(t *testing.T, vals map[string]cty.Value, name string) int64 {
	t.Helper()
	v, ok := vals[name]
	if !ok || v.Type() != cty.Number {
		t.Fatalf("%s = %#v, want a number", name, v)
	}
	i, _ := v.AsBigFloat().Int64()
	return i
}

func boolean(t *testing.T, vals map[string]cty.Value, name string) bool {
	t.Helper()
	v, ok := vals[name]
	if !ok || v.Type() != cty.Bool {
		t.Fatalf("%s = %#v, want a bool", name, v)
	}
	return v.True()
}

func TestEmbeddedConfigValidates(t *testing.T) {
	cfg, err := lablink.ParseConfig(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestRenderEmbeddedConfig(t *testing.T) {
	noAWS(t)
	r := runCLI(t, nil, "render", "--allocator-ip", "203.0.113.10", "--gpu", "catalog", "--count", "3")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	cfg, _ := lablink.ParseConfig(exampleConfig)
	vals := parseTFVars(t, []byte(r.stdout), tfvars.HCL)
	got := map[string]any{
		"allocator_ip":     str(t, vals, "allocator_ip"),
		"allocator_url":    str(t, vals, "allocator_url"),
		"allocator_port":   num(t, vals, "allocator_port"),
		"machine_type":     str(t, vals, "machine_type"),
		"image_name":       str(t, vals, "image_name"),
		"repository":       str(t, vals, "repository"),
		"client_ami_id":    str(t, vals, "client_ami_id"),
		"region":           str(t, vals, "region"),
		"resource_suffix":  str(t, vals, "resource_suffix"),
		"gpu_support":      boolean(t, vals, "gpu_support"),
		"instance_count":   num(t, vals, "instance_count"),
		"subject_software": str(t, vals, "subject_software"),
	}
	want := map[string]any{
		"allocator_ip":     "203.0.113.10",
		"allocator_url":    "http://203.0.113.10",
		"allocator_port":   int64(80),
		"machine_type":     cfg.Machine.MachineType,
		"image_name":       cfg.Machine.Image,
		"repository":       cfg.Machine.Repository,
		"client_ami_id":    cfg.Machine.AMIID,
		"region":           cfg.App.Region,
		"resource_suffix":  "prod",
		"gpu_support":      true,
		"instance_count":   int64(3),
		"subject_software": cfg.Machine.Software,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rendered values (-want +got):\n%s", diff)
	}
	if len(vals) != 17 {
		t.Errorf("%d variables, want 17", len(vals))
	}
	if !strings.Contains(r.stderr, "render: 17 variables, instance_count=3, gpu_support=true (catalog ") ||
		!strings.Contains(r.stderr, "-> stdout (sha256 ") {
		t.Errorf("summary missing:\n%s", r.stderr)
	}
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
			r := runCLI(t, nil, "render", "--allocator-ip", "203.0.113.10", "--gpu", "false", "--out", out)
			if r.code != 0 {
				t.Fatalf("%v", r)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", fi.Mode().Perm())
			}
			data, _ := os.ReadFile(out)
			vals := parseTFVars(t, data, tc.format)
			if boolean(t, vals, "gpu_support") {
				t.Error("gpu_support = true with --gpu false")
			}
			if num(t, vals, "instance_count") != 1 {
				t.Error("instance_count is not the default 1")
			}
			if !strings.Contains(r.stderr, "gpu_support=false (flag)") || !strings.Contains(r.stderr, "-> "+out+" (sha256 ") {
				t.Errorf("summary:\n%s", r.stderr)
			}
		})
	}
}

func TestRenderEnvFallbacks(t *testing.T) {
	noAWS(t)
	env := map[string]string{
		"ALLOCATOR_PUBLIC_IP":  "198.51.100.7",
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
			"allocator_ip": "198.51.100.7", "resource_suffix": "test-lab",
			"allocator_url": "https://lab.example.org", "cloud_init_output_log_group": "/lablink/cloud-init",
		}},
		{"flags win", []string{"--allocator-ip", "203.0.113.10", "--environment", "dev", "--fqdn", "http://dev.example.org", "--log-group", "other"}, map[string]string{
			"allocator_ip": "203.0.113.10", "resource_suffix": "dev",
			"allocator_url": "http://dev.example.org", "cloud_init_output_log_group": "other",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"render", "--gpu", "catalog"}, tc.flags...)
			r := runCLI(t, env, args...)
			if r.code != 0 {
				t.Fatalf("%v", r)
			}
			vals := parseTFVars(t, []byte(r.stdout), tfvars.HCL)
			got := map[string]string{}
			for k := range tc.want {
				got[k] = str(t, vals, k)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
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
			args := append([]string{"render", "--allocator-ip", "203.0.113.10"}, tc.args...)
			r := runCLI(t, nil, args...)
			if r.code != 0 {
				t.Fatalf("%v", r)
			}
			if got := boolean(t, parseTFVars(t, []byte(r.stdout), tfvars.HCL), "gpu_support"); got != tc.want {
				t.Errorf("gpu_support = %t, want %t", got, tc.want)
			}
			note := strings.Contains(r.stderr, "render: no AWS credentials; GPU support from the offline catalog taken 20")
			if note != tc.noteWant {
				t.Errorf("catalog note = %t, want %t:\n%s", note, tc.noteWant, r.stderr)
			}
		})
	}
}

// writeConfig writes a config.yaml that differs from the embedded one in
// the lines of edits ("machine_type: g4dn.xlarge" -> "machine_type: x").
func writeConfig(t *testing.T, edits ...string) string {
	t.Helper()
	s := string(exampleConfig)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(s, edits[i]) {
			t.Fatalf("embedded config has no %q", edits[i])
		}
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRenderGPUAuto(t *testing.T) {
	t.Run("nvidia from the API", func(t *testing.T) {
		srv := fakeEC2(t)
		r := runCLI(t, nil, "render", "--allocator-ip", "203.0.113.10", "--gpu", "auto")
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		if !boolean(t, parseTFVars(t, []byte(r.stdout), tfvars.HCL), "gpu_support") {
			t.Error("gpu_support = false for g4dn.xlarge")
		}
		if !strings.Contains(r.stderr, "gpu_support=true (ec2-api)") {
			t.Errorf("summary:\n%s", r.stderr)
		}
		if srv.Requests() == 0 {
			t.Error("the fake EC2 got no request")
		}
	})
	t.Run("default is auto with credentials", func(t *testing.T) {
		srv := fakeEC2(t)
		cfg := writeConfig(t, "machine_type: g4dn.xlarge", "machine_type: t3.medium")
		r := runCLI(t, nil, "render", "--config", cfg, "--allocator-ip", "203.0.113.10")
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		if boolean(t, parseTFVars(t, []byte(r.stdout), tfvars.HCL), "gpu_support") {
			t.Error("gpu_support = true for t3.medium")
		}
		if srv.Requests() == 0 || strings.Contains(r.stderr, "catalog") {
			t.Errorf("did not ask EC2:\n%s", r.stderr)
		}
	})
	t.Run("unknown instance type", func(t *testing.T) {
		fakeEC2(t)
		cfg := writeConfig(t, "machine_type: g4dn.xlarge", "machine_type: zz9.plural")
		r := runCLI(t, nil, "render", "--config", cfg, "--allocator-ip", "203.0.113.10", "--gpu", "auto")
		if r.code != exitInvalid {
			t.Fatalf("want exit 2, got %v", r)
		}
		if !strings.Contains(r.stderr, `machine.machine_type "zz9.plural"`) || !strings.Contains(r.stderr, "unknown instance type") {
			t.Errorf("message:\n%s", r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("stdout = %q, want nothing", r.stdout)
		}
	})
	t.Run("API failure", func(t *testing.T) {
		srv := fakeEC2(t)
		t.Setenv("AWS_MAX_ATTEMPTS", "2")
		srv.FailNext(100, 500, "InternalError")
		r := runCLI(t, nil, "render", "--allocator-ip", "203.0.113.10", "--gpu", "auto")
		if r.code == 0 {
			t.Fatalf("want failure, got %v", r)
		}
		if strings.Contains(r.stdout, "gpu_support") {
			t.Errorf("rendered despite the API failure:\n%s", r.stdout)
		}
		if !strings.Contains(r.stderr, "gpu_support is never guessed") || !strings.Contains(r.stderr, "InternalError") {
			t.Errorf("message:\n%s", r.stderr)
		}
		if srv.Requests() < 2 {
			t.Errorf("%d requests, want the retries too", srv.Requests())
		}
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, nil, "validate", "--config", writeConfig(t))
		if r.code != 0 || r.stdout != "ok\n" {
			t.Fatalf("%v", r)
		}
	})
	t.Run("every problem", func(t *testing.T) {
		t.Parallel()
		cfg := writeConfig(t,
			"provider: none", "provider: nginx",
			"machine_type: g4dn.xlarge", `machine_type: "g4dn.xlarge; rm -rf /"`,
			"on_error: continue", "on_error: panic",
		)
		r := runCLI(t, nil, "validate", "--config", cfg)
		if r.code != exitInvalid {
			t.Fatalf("want exit 2, got %v", r)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		var paths []string
		for _, l := range lines {
			paths = append(paths, strings.SplitN(l, ":", 2)[0])
		}
		want := []string{"machine.machine_type", "ssl.provider", "startup_script.on_error"}
		if diff := cmp.Diff(want, paths); diff != "" {
			t.Errorf("problems (-want +got):\n%s\nstdout:\n%s", diff, r.stdout)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		t.Parallel()
		cfg := writeConfig(t, "  machine_type: g4dn.xlarge", "  machine_typo: g4dn.xlarge")
		r := runCLI(t, nil, "validate", "--config", cfg)
		if r.code != exitInvalid {
			t.Fatalf("want exit 2, got %v", r)
		}
		line := 1 + strings.Count(string(exampleConfig[:bytes.Index(exampleConfig, []byte("  machine_type:"))]), "\n")
		want := regexp.MustCompile(`config\.yaml:` + strconv.Itoa(line) + `: machine\.machine_typo: unknown key`)
		if !want.MatchString(r.stdout) {
			t.Errorf("want %s in:\n%s", want, r.stdout)
		}
	})
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	t.Run("embedded aws module", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, nil, "defaults")
		if r.code != 0 || r.stdout != "no drift\n" {
			t.Fatalf("%v", r)
		}
	})
	t.Run("drift", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		tf := `variable "machine_type" {
  type    = string
  default = "t2.medium"
}
`
		if err := os.WriteFile(filepath.Join(dir, "variables.tf"), []byte(tf), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, nil, "defaults", "--module", dir)
		if r.code != exitFailure {
			t.Fatalf("want exit 1, got %v", r)
		}
		if !strings.Contains(r.stdout, `"t2.medium"`) || !strings.Contains(r.stdout, `"g4dn.xlarge"`) {
			t.Errorf("drift line must name both values:\n%s", r.stdout)
		}
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
		{"extra argument", []string{"render", "--allocator-ip", "203.0.113.10", "extra"}, exitInvalid},
		{"bad count", []string{"render", "--allocator-ip", "203.0.113.10", "--count", "0"}, exitInvalid},
		{"bad gpu", []string{"render", "--allocator-ip", "203.0.113.10", "--gpu", "maybe"}, exitInvalid},
		{"bad format", []string{"render", "--allocator-ip", "203.0.113.10", "--format", "yaml"}, exitInvalid},
		{"no ip", []string{"render", "--gpu", "catalog"}, exitInvalid},
		{"bad ip", []string{"render", "--gpu", "catalog", "--allocator-ip", "not-an-ip"}, exitInvalid},
		{"launch without count", []string{"launch", "--workdir", "x", "--allocator-ip", "203.0.113.10"}, exitInvalid},
		{"launch without workdir", []string{"launch", "--count", "1"}, exitInvalid},
		{"audit without subcommand", []string{"audit"}, exitInvalid},
		{"audit without store", []string{"audit", "list"}, exitInvalid},
		{"missing config", []string{"validate", "--config", "/nonexistent/config.yaml"}, exitInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%v", r.code, tc.code, r)
			}
		})
	}
	r := runCLI(t, nil, "launch", "--count", "1", "--workdir", t.TempDir(), "--gpu", "catalog")
	if r.code != exitInvalid || !strings.Contains(r.stderr, "--allocator-ip") || !strings.Contains(r.stderr, "ALLOCATOR_PUBLIC_IP") {
		t.Errorf("missing IP message must name the flag and the variable:\n%v", r)
	}
}

// TestLaunchStatusDestroy drives a real OpenTofu (or Terraform) through
// the local module.
func TestLaunchStatusDestroy(t *testing.T) {
	noAWS(t)
	bin := tofutest.Binary(t)
	for _, kv := range tofutest.Env(t) {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TF_") || k == "CHECKPOINT_DISABLE" {
			t.Setenv(k, v)
		}
	}
	work := filepath.Join(t.TempDir(), "work")
	common := []string{"--workdir", work, "--terraform", bin}
	launch := func(n string) result {
		t.Helper()
		args := append([]string{"launch", "--count", n, "--gpu", "catalog", "--allocator-ip", "203.0.113.10", "--actor", "tester"}, common...)
		r := runCLI(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("launch --count %s: %v", n, r)
		}
		return r
	}

	if r := runCLI(t, nil, append([]string{"destroy"}, common...)...); r.code != exitFailure || !strings.Contains(r.stderr, "no client VMs were launched") {
		t.Fatalf("destroy before any launch: %v", r)
	}

	launch("2")
	r := launch("3")
	if !strings.Contains(r.stdout, "2 existing + 3 requested = 5 total") {
		t.Errorf("second launch summary:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "progress: 3/3 ") {
		t.Errorf("no progress lines:\n%s", r.stderr)
	}
	for _, want := range []string{"allocator:  http://203.0.113.10", "gpu:        g4dn.xlarge true (catalog", "tfvars:     ", "plan:       3 to add, 0 to change, 0 to destroy", "audit:      "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runCLI(t, nil, append([]string{"status"}, common...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "client VMs:     5\n") || !strings.Contains(r.stdout, "terraform.runtime.tfvars") ||
		!regexp.MustCompile(`last launch:    \S+ launch succeeded at `).MatchString(r.stdout) {
		t.Errorf("status after launches: %v", r)
	}

	store := filepath.Join(work, ".lablink", "audit")
	r = runCLI(t, nil, "audit", "list", "--store", store)
	if r.code != 0 {
		t.Fatalf("audit list: %v", r)
	}
	rows := regexp.MustCompile(`(?m)^(\S+)\s+\S+\s+launch\s+succeeded\s+(\d+) existing \+ (\d+) requested = (\d+)\s+tester$`).FindAllStringSubmatch(r.stdout, -1)
	if len(rows) != 2 {
		t.Fatalf("want two succeeded launches:\n%s", r.stdout)
	}
	if got := rows[0][2] + "+" + rows[0][3] + "=" + rows[0][4]; got != "2+3=5" {
		t.Errorf("newest launch %s, want 2+3=5", got)
	}

	r = runCLI(t, nil, "audit", "show", "--store", store, rows[1][1])
	if r.code != 0 || !strings.Contains(r.stdout, `"outcome": "succeeded"`) || !strings.Contains(r.stdout, "instance_count") {
		t.Errorf("audit show: %v", r)
	}

	r = runCLI(t, nil, append([]string{"destroy"}, common...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "client VMs: 5 destroyed") {
		t.Fatalf("destroy: %v", r)
	}
	r = runCLI(t, nil, append([]string{"status"}, common...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "client VMs:     0\n") {
		t.Errorf("status after destroy: %v", r)
	}
}
