package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/schedule"
)

// testEnv is an allocator environment that passes setup.CheckInputs and supplies
// the security group the module requires (off EC2 nothing else does).
func testEnv() map[string]string {
	return map[string]string{"ALLOCATOR_PUBLIC_IP": testkit.AllocatorIP, "ALLOCATOR_SG_ID": testkit.SecurityGroup}
}

func getenvFrom(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// writeConfig writes cfg as a config.yaml of today's schema and returns
// its path. The keys upstream removed (lablink.Deprecations) are left out,
// so that loading the file warns of nothing; they keep their defaults.
func writeConfig(t *testing.T, cfg lablink.Config) string {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, doc.Encode(cfg))
	for _, d := range lablink.Deprecations() {
		dropKey(&doc, strings.Split(d.Path, "."))
	}
	data, err := yaml.Marshal(&doc)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

// dropKey removes the key at path from the mapping n, if it is there.
func dropKey(n *yaml.Node, path []string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != path[0] {
			continue
		}
		if len(path) == 1 {
			n.Content = slices.Delete(n.Content, i, i+2)
		} else {
			dropKey(n.Content[i+1], path[1:])
		}
		return
	}
}

// TestWriteConfig: the helper's file loads back as the config it was
// given, without a warning.
func TestWriteConfig(t *testing.T) {
	cfg := testConfig()
	cfg.Environment = "staging"
	got, warns, err := lablink.LoadConfig(writeConfig(t, cfg))
	require.NoError(t, err)
	assert.Empty(t, warns)
	// yaml writes a nil list as [], which loads as an empty one.
	assert.Empty(t, cmp.Diff(cfg, got, cmpopts.EquateEmpty()), "loaded config (-want +got)")
}

// serverTofu prepares a test that runs the server with a real OpenTofu:
// skipped under -short, with the environment of isolateTofu and noAWS. It
// returns the OpenTofu binary. Tests that call it cannot run in parallel.
func serverTofu(t *testing.T, skipReason string) string {
	t.Helper()
	if testing.Short() {
		t.Skip(skipReason)
	}
	isolateTofu(t)
	noAWS(t)
	return tofutest.Binary(t)
}

// isolateTofu gives the OpenTofu processes that run starts, which inherit
// this process's environment, the environment of tofutest.Env: no TF_*
// variable of the machine running the tests, no ~/.terraformrc. Tests
// that call it cannot run in parallel.
func isolateTofu(t *testing.T) {
	t.Helper()
	unsetPrefix(t, "TF_")
	for k, v := range tofutest.ExecEnv(t) {
		if strings.HasPrefix(k, "TF_") || k == "CHECKPOINT_DISABLE" {
			t.Setenv(k, v)
		}
	}
}

// unsetPrefix unsets, for the rest of the test, every environment
// variable whose name starts with prefix.
func unsetPrefix(t *testing.T, prefix string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, prefix) {
			t.Setenv(k, "") // restored at the end of the test
			os.Unsetenv(k)
		}
	}
}

// noAWS makes the process environment hold no AWS configuration, so
// nothing of the machine running the tests reaches the SDK (run's AWS
// configuration comes from the SDK's default chain). Tests that call it
// cannot run in parallel.
func noAWS(t *testing.T) {
	t.Helper()
	unsetPrefix(t, "AWS_")
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// logSink is the stderr of an in-process run: it keeps everything
// written, and reports the URL of the "listening" log line on
// listening. It is safe for concurrent use.
type logSink struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	pending   []byte // an incomplete last line
	listening chan string
}

func newLogSink() *logSink { return &logSink{listening: make(chan string, 1)} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	s.pending = append(s.pending, p...)
	for {
		i := bytes.IndexByte(s.pending, '\n')
		if i < 0 {
			break
		}
		var rec struct{ Msg, URL string }
		if json.Unmarshal(s.pending[:i], &rec) == nil && rec.Msg == "listening" {
			select {
			case s.listening <- rec.URL:
			default:
			}
		}
		s.pending = s.pending[i+1:]
	}
	return len(p), nil
}

// String returns what was written, the JSON log records rendered as
// "level msg key=value ..." lines (values unquoted, so that tests can look
// for the text of an error) and other lines as they are.
func (s *logSink) String() string {
	s.mu.Lock()
	raw := s.buf.String()
	s.mu.Unlock()
	var out strings.Builder
	sc := bufio.NewScanner(strings.NewReader(raw))
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			out.WriteString(sc.Text() + "\n")
			continue
		}
		fmt.Fprintf(&out, "%v %v", rec["level"], rec["msg"])
		for _, k := range slices.Sorted(maps.Keys(rec)) {
			if k != "level" && k != "msg" && k != "time" {
				fmt.Fprintf(&out, " %s=%v", k, rec[k])
			}
		}
		out.WriteString("\n")
	}
	return out.String()
}

// runningServer is run running in this process, as main runs it.
type runningServer struct {
	t    *testing.T
	url  string
	log  *logSink
	stop context.CancelFunc // what SIGTERM does to main
	done chan int
	once sync.Once
	code int
}

// startRun runs run with args and env until it logs that it listens; the
// args should hold --addr 127.0.0.1:0. The server is shut down when the
// test ends, if the test has not done it (shutdown).
func startRun(t *testing.T, env map[string]string, args ...string) *runningServer {
	t.Helper()
	return startRunLog(t, env, newLogSink(), args...)
}

// startRunLog is startRun logging to log.
func startRunLog(t *testing.T, env map[string]string, log *logSink, args ...string) *runningServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningServer{t: t, log: log, stop: cancel, done: make(chan int, 1)}
	go func() { s.done <- run(ctx, args, s.log, getenvFrom(env)) }()
	t.Cleanup(func() {
		s.shutdown()
		if t.Failed() {
			t.Logf("server log:\n%s", s.log)
		}
	})
	select {
	case url := <-s.log.listening:
		s.url = url
	case code := <-s.done:
		s.done <- code
		t.Fatalf("run exited with %d before listening", code)
	}
	return s
}

// shutdown does what SIGTERM does, waits for run to return and returns
// its exit code.
func (s *runningServer) shutdown() int {
	s.once.Do(func() {
		s.stop()
		s.code = <-s.done
	})
	return s.code
}

func (s *runningServer) client() e2eClient { return e2eClient{s.t, s.url} }

func TestParseFlags(t *testing.T) {
	moduleDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(moduleDir, "main.tf"), nil, 0o644))
	defaults := flags{config: "c.yaml", workdir: "w", addr: "127.0.0.1:8080", module: "local", shutdownTimeout: 2 * time.Minute,
		schedulePoll: schedule.DefaultPollInterval}
	with := func(f func(*flags)) flags {
		fl := defaults
		f(&fl)
		return fl
	}
	tests := []struct {
		name string
		args []string
		want flags
		// For refused flags: the exit code and what stderr must say.
		code   int
		stderr []string
	}{
		{name: "defaults", args: []string{"--config", "c.yaml", "--workdir", "w"}, want: defaults},
		{name: "every flag",
			args: []string{"--config", "c.yaml", "--workdir", "w", "--addr", "localhost:9000", "--module", "aws",
				"--terraform", "/bin/tofu", "--audit", "s3://b/p", "--gpu", "catalog", "--insecure-dev",
				"--shutdown-timeout", "30s", "--schedule-poll", "2s"},
			want: with(func(f *flags) {
				f.addr, f.module, f.terraform, f.audit, f.gpu = "localhost:9000", "aws", "/bin/tofu", "s3://b/p", "catalog"
				f.insecureDev, f.shutdownTimeout, f.schedulePoll = true, 30*time.Second, 2*time.Second
			})},
		{name: "gpu auto", args: []string{"--config", "c.yaml", "--workdir", "w", "--gpu", "auto"},
			want: with(func(f *flags) { f.gpu = "auto" })},
		{name: "nothing", code: exitUsage, stderr: []string{"--config is required", "--workdir is required", "Usage"}},
		{name: "no workdir", args: []string{"--config", "c.yaml"}, code: exitUsage, stderr: []string{"--workdir is required"}},
		{name: "unknown flag", args: []string{"--config", "c.yaml", "--workdir", "w", "--port", "80"},
			code: exitUsage, stderr: []string{"flag provided but not defined: -port"}},
		{name: "gpu forced", args: []string{"--config", "c.yaml", "--workdir", "w", "--gpu", "false"},
			want: with(func(f *flags) { f.gpu = "false" })},
		{name: "module directory", args: []string{"--config", "c.yaml", "--workdir", "w", "--module", moduleDir},
			want: with(func(f *flags) { f.module = moduleDir })},
		{name: "unknown module", args: []string{"--config", "c.yaml", "--workdir", "w", "--module", "gcp"},
			code: exitUsage, stderr: []string{"--module", `"gcp": want aws, local or a directory holding *.tf files`}},
		{name: "unknown gpu mode", args: []string{"--config", "c.yaml", "--workdir", "w", "--gpu", "ec2"},
			code: exitUsage, stderr: []string{`--gpu "ec2": want auto, catalog, true or false`}},
		{name: "zero shutdown timeout", args: []string{"--config", "c.yaml", "--workdir", "w", "--shutdown-timeout", "0s"},
			code: exitUsage, stderr: []string{"--shutdown-timeout must be positive"}},
		{name: "zero schedule poll", args: []string{"--config", "c.yaml", "--workdir", "w", "--schedule-poll", "0s"},
			code: exitUsage, stderr: []string{"--schedule-poll must be positive"}},
		{name: "bad duration", args: []string{"--config", "c.yaml", "--workdir", "w", "--shutdown-timeout", "soon"},
			code: exitUsage, stderr: []string{"invalid value \"soon\""}},
		{name: "bad bool", args: []string{"--config", "c.yaml", "--workdir", "w", "--insecure-dev=maybe"},
			code: exitUsage, stderr: []string{"invalid boolean value"}},
		{name: "extra arguments", args: []string{"--config", "c.yaml", "--workdir", "w", "serve"},
			code: exitUsage, stderr: []string{`unexpected arguments ["serve"]`}},
		{name: "insecure-dev on IPv6 loopback", args: []string{"--config", "c.yaml", "--workdir", "w", "--insecure-dev", "--addr", "[::1]:8080"},
			want: with(func(f *flags) { f.insecureDev, f.addr = true, "[::1]:8080" })},
		{name: "insecure-dev on every address", args: []string{"--config", "c.yaml", "--workdir", "w", "--insecure-dev", "--addr", ":8080"},
			code: exitUsage, stderr: []string{"--insecure-dev serves only on a loopback address", `--addr is ":8080"`}},
		{name: "insecure-dev on a public address", args: []string{"--config", "c.yaml", "--workdir", "w", "--insecure-dev", "--addr", "0.0.0.0:80"},
			code: exitUsage, stderr: []string{"--insecure-dev serves only on a loopback address", `--addr is "0.0.0.0:80"`}},
		{name: "insecure-dev on a host name", args: []string{"--config", "c.yaml", "--workdir", "w", "--insecure-dev", "--addr", "lab.example.org:80"},
			code: exitUsage, stderr: []string{"--insecure-dev serves only on a loopback address"}},
		{name: "tls", args: []string{"--config", "c.yaml", "--workdir", "w", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
			want: with(func(f *flags) { f.tlsCert, f.tlsKey = "c.pem", "k.pem" })},
		{name: "tls cert without key", args: []string{"--config", "c.yaml", "--workdir", "w", "--tls-cert", "c.pem"},
			code: exitUsage, stderr: []string{"--tls-cert and --tls-key go together"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got, code := parseFlags(tc.args, &stderr)
			require.Equal(t, tc.code, code, "exit code; stderr:\n%s", stderr.String())
			for _, s := range tc.stderr {
				assert.Contains(t, stderr.String(), s, "stderr")
			}
			if tc.code != exitOK {
				return
			}
			assert.Empty(t, stderr.String(), "stderr")
			assert.Equal(t, tc.want, got, "flags")
		})
	}
}

// TestRunRefusesToStart covers the reasons run stops before serving. None
// of them touches the working directory, and none gets as far as
// OpenTofu (--terraform names a binary that does not exist, which would
// be exit 1 after the module is written).
func TestRunRefusesToStart(t *testing.T) {
	noAWS(t)
	strong := testConfig()
	weak := func(pw string) lablink.Config {
		c := testConfig()
		c.App.AdminPassword = lablink.Secret(pw)
		return c
	}
	invalid := testConfig()
	invalid.Machine.MachineType = ""
	invalid.StartupScript.MaxAttempts = 0
	// DefaultConfig asks for Let's Encrypt without DNS or an e-mail, which
	// today's cross-field rules refuse.
	letsencrypt := testConfig()
	letsencrypt.SSL = lablink.DefaultConfig().SSL
	with := func(kv ...string) map[string]string {
		env := testEnv()
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	const (
		notYAML = "app: [unterminated\n"
		unknown = "app:\n  admin_usr: admin\n"
	)
	tests := []struct {
		name string
		cfg  any // a lablink.Config, the text of a config file, or nil for no --config
		env  map[string]string
		args []string // after --workdir and the others, and --config
		code int
		want []string // in the log, in order
	}{
		{"no config flag", nil, testEnv(), nil, exitUsage,
			[]string{"--config is required"}},
		{"unknown flag", strong, testEnv(), []string{"--listen", ":80"}, exitUsage,
			[]string{"flag provided but not defined: -listen"}},
		{"bad gpu mode", strong, testEnv(), []string{"--gpu", "yes"}, exitUsage,
			[]string{`--gpu "yes": want auto, catalog, true or false`}},
		{"missing config file", nil, testEnv(), []string{"--config", "/nonexistent/config.yaml"}, exitUsage,
			[]string{"invalid config", "/nonexistent/config.yaml", "no such file"}},
		{"config not YAML", notYAML, testEnv(), nil, exitUsage, []string{"invalid config"}},
		{"config with an unknown key", unknown, testEnv(), nil, exitUsage, []string{"invalid config", "admin_usr"}},
		{"invalid config values", invalid, testEnv(), nil, exitUsage,
			[]string{"invalid config", "machine.machine_type", "startup_script.max_attempts"}},
		{"letsencrypt without dns", letsencrypt, testEnv(), nil, exitUsage,
			[]string{"invalid config", "ssl.provider", "needs DNS for its certificate", "ssl.email"}},
		{"unfilled password", weak(lablink.MissingSecret), testEnv(), nil, exitUsage,
			[]string{"refusing to start", "--insecure-dev", `it is the unfilled placeholder "MISSING"`}},
		{"template placeholder password", weak("PLACEHOLDER_ADMIN_PASSWORD"), testEnv(), nil, exitUsage,
			[]string{"refusing to start", `it is the unfilled placeholder "PLACEHOLDER_ADMIN_PASSWORD"`}},
		{"old default password", weak("admin_password"), testEnv(), nil, exitUsage,
			[]string{"refusing to start", "--insecure-dev", `it is the old default "admin_password"`}},
		{"placeholder password", weak("CHANGE-ME-before-prod"), testEnv(), nil, exitUsage,
			[]string{"refusing to start", `placeholder "changeme"`}},
		{"template password", weak("${ADMIN_PASSWORD}-unexpanded"), testEnv(), nil, exitUsage,
			[]string{"refusing to start", "unexpanded template"}},
		{"short password", weak("Xk3!v9"), testEnv(), nil, exitUsage,
			[]string{"refusing to start", "fewer than 12 characters"}},
		{"no ALLOCATOR_PUBLIC_IP", strong, map[string]string{"ALLOCATOR_SG_ID": testkit.SecurityGroup}, nil, exitUsage,
			[]string{"refusing to start", "ALLOCATOR_PUBLIC_IP is not set"}},
		{"blank ALLOCATOR_PUBLIC_IP", strong, with("ALLOCATOR_PUBLIC_IP", "  "), nil, exitUsage,
			[]string{"ALLOCATOR_PUBLIC_IP is not set"}},
		{"ALLOCATOR_PUBLIC_IP not an IP", strong, with("ALLOCATOR_PUBLIC_IP", "allocator.example.com"), nil, exitUsage,
			[]string{"refusing to start", `ALLOCATOR_PUBLIC_IP: "allocator.example.com" is not an IP address`}},
		{"ALLOCATOR_PUBLIC_IP with a zone", strong, with("ALLOCATOR_PUBLIC_IP", "fe80::1%eth0"), nil, exitUsage,
			[]string{"ALLOCATOR_PUBLIC_IP"}},
		{"ALLOCATOR_SG_ID not a security group", strong, with("ALLOCATOR_SG_ID", "default"), nil, exitUsage,
			[]string{"refusing to start", "err=ALLOCATOR_SG_ID:"}},
		// The message names every variable, so the error (err=) must be the
		// one naming the culprit.
		{"bad ENVIRONMENT", strong, with("ENVIRONMENT", "test_env"), nil, exitUsage,
			[]string{"refusing to start", "err=ENVIRONMENT:"}},
		{"bad CLOUD_INIT_LOG_GROUP", strong, with("CLOUD_INIT_LOG_GROUP", "log group;rm"), nil, exitUsage,
			[]string{"refusing to start", "err=CLOUD_INIT_LOG_GROUP:"}},
		{"bad ALLOCATOR_FQDN", strong, with("ALLOCATOR_FQDN", "ftp://allocator.example.com"), nil, exitUsage,
			[]string{"refusing to start", "err=allocurl: ALLOCATOR_FQDN:"}},
		// Every problem at once, the missing IP included.
		{"no IP and bad ENVIRONMENT and log group", strong,
			map[string]string{"ENVIRONMENT": "Test_Env", "CLOUD_INIT_LOG_GROUP": "a b$"}, nil, exitUsage,
			[]string{"err=ALLOCATOR_PUBLIC_IP is not set", "ENVIRONMENT:", "CLOUD_INIT_LOG_GROUP:"}},
		{"invalid audit store", strong, testEnv(), []string{"--audit", "s3://Not_A_Bucket/x"}, exitUsage,
			[]string{"audit store", "bad bucket name"}},
		{"audit store with an unknown parameter", strong, testEnv(), []string{"--audit", "s3://bucket/x?region=eu"}, exitUsage,
			[]string{"audit store", "unknown", `parameter "region"`}},
		// After the --gpu catalog of every case, so this one wins.
		{"gpu auto without AWS credentials", strong, testEnv(), []string{"--gpu", "auto"}, exitFailure,
			[]string{"gpu detector", "--gpu auto needs AWS credentials", "use --gpu catalog to work offline"}},
		{"insecure-dev on every address", weak(lablink.MissingSecret), testEnv(), []string{"--insecure-dev", "--addr", "0.0.0.0:0"},
			exitUsage, []string{"--insecure-dev serves only on a loopback address"}},
		{"a TLS key that is not there", strong, testEnv(), []string{"--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"},
			exitUsage, []string{"refusing to start", "--tls-cert, --tls-key", "no such file"}},
		// --insecure-dev lowers the password bar only.
		{"insecure-dev without ALLOCATOR_PUBLIC_IP", weak(lablink.MissingSecret), map[string]string{},
			[]string{"--insecure-dev"}, exitUsage,
			[]string{"INSECURE", "refusing to start", "ALLOCATOR_PUBLIC_IP is not set"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			workdir := filepath.Join(dir, "client")
			args := []string{"--workdir", workdir, "--addr", "127.0.0.1:0", "--gpu", "catalog",
				"--terraform", filepath.Join(dir, "no-tofu")}
			switch c := tc.cfg.(type) {
			case lablink.Config:
				args = append(args, "--config", writeConfig(t, c))
			case string:
				p := filepath.Join(dir, "config.yaml")
				require.NoError(t, os.WriteFile(p, []byte(c), 0o600))
				args = append(args, "--config", p)
			}
			args = append(args, tc.args...)

			log := newLogSink()
			code := run(t.Context(), args, log, getenvFrom(tc.env))
			got := log.String()
			assert.Equal(t, tc.code, code, "exit code; log:\n%s", got)
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if !assert.GreaterOrEqual(t, i, 0, "log does not say %q (after the earlier expected text):\n%s", w, got) {
					break
				}
				rest = rest[i+len(w):]
			}
			assert.NoDirExists(t, workdir, "run refused to start but created the workdir")
		})
	}
}

// TestRunRefusesWithoutSecurityGroup: off EC2 (the instance metadata probe
// is off) and without ALLOCATOR_SG_ID, nothing supplies the module's
// required allocator_sg_id, so every launch would fail; the server says so
// at start, naming the variable and how to set it, and exits 2 without
// running OpenTofu.
func TestRunRefusesWithoutSecurityGroup(t *testing.T) {
	isolateTofu(t)
	noAWS(t)
	workdir := filepath.Join(t.TempDir(), "client")
	args := []string{"--config", writeConfig(t, testConfig()), "--workdir", workdir, "--addr", "127.0.0.1:0",
		"--gpu", "catalog", "--terraform", tofutest.Binary(t)}
	log := newLogSink()
	code := run(t.Context(), args, log, getenvFrom(map[string]string{"ALLOCATOR_PUBLIC_IP": testkit.AllocatorIP}))
	got := log.String()
	assert.Equal(t, exitUsage, code, "log:\n%s", got)
	assert.Contains(t, got, "refusing to start")
	assert.Contains(t, got, `variable "allocator_sg_id"`)
	assert.Contains(t, got, "ALLOCATOR_SG_ID")
	assert.NotContains(t, got, "listening")
	assert.NoDirExists(t, workdir, "a refused start leaves no file behind: no module, no tokens")
}

// TestRunWarnsDeprecatedKeys starts the server on the config file of the
// oldest upstream schema generation: each removed key is logged as a
// warning, naming its path, line and the release that removed it, and
// the server starts and serves.
func TestRunWarnsDeprecatedKeys(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu")
	// The fixture's startup script, config/prepare-desktop.sh, must be
	// there, next to a copy of it.
	fixture, err := os.ReadFile(filepath.Join("..", "..", "testdata", "generations", "2025-11.yaml"))
	require.NoError(t, err)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fixture, 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "config"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config", "prepare-desktop.sh"), []byte("#!/bin/sh\n"), 0o644))
	cfg, warns, err := lablink.LoadConfig(cfgPath)
	require.NoError(t, err)
	require.NotEmpty(t, warns, "the 2025-11 generation sets removed keys")
	require.NoError(t, checkAdminPassword(cfg.App), "the fixture's admin password must be fit for a server")

	s := startRun(t, testEnv(), "--config", cfgPath, "--workdir", filepath.Join(t.TempDir(), "client"),
		"--addr", "127.0.0.1:0", "--terraform", tofu, "--gpu", "catalog")
	req, err := http.NewRequest(http.MethodGet, s.url+"/api/status", nil)
	require.NoError(t, err)
	req.SetBasicAuth(cfg.App.AdminUser, cfg.App.AdminPassword.Reveal())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "status with the file's admin credentials")
	require.Equal(t, exitOK, s.shutdown())

	var got []string
	for l := range strings.Lines(s.log.String()) {
		if strings.HasPrefix(l, "WARN deprecated config key ") {
			got = append(got, strings.TrimSuffix(l, "\n"))
		}
	}
	var want []string
	for _, w := range warns {
		want = append(want, fmt.Sprintf("WARN deprecated config key line=%d path=%s removed_in=%s todo=%s",
			w.Line, w.Path, w.Release, w.Replacement))
	}
	assert.Equal(t, want, got, "one warning per deprecated key")
	assert.Contains(t, s.log.String(), "listening")
}

// TestRunStartsAndStops starts the real server, OpenTofu init included,
// and shuts it down as SIGTERM would.
func TestRunStartsAndStops(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu")
	unfilled := testConfig()
	unfilled.App.AdminPassword = lablink.DefaultConfig().App.AdminPassword

	tests := []struct {
		name     string
		cfg      lablink.Config
		args     []string
		workdir  func(t *testing.T, dir string) // prepares the workdir; nil leaves it missing
		password string                         // the admin password the server accepts
		warn     string                         // a warning the log must hold
	}{
		{name: "strong password, missing workdir", cfg: testConfig(), password: testPassword},
		{name: "strong password, empty workdir others can read", cfg: testConfig(), password: testPassword,
			workdir: func(t *testing.T, dir string) { require.NoError(t, os.Mkdir(dir, 0o755)) },
			warn:    "the workdir can be read by others"},
		{name: "default password with insecure-dev", cfg: unfilled, args: []string{"--insecure-dev"},
			password: lablink.MissingSecret, warn: "INSECURE"},
		{name: "no --gpu and no AWS credentials", cfg: testConfig(), password: testPassword,
			warn: "GPU support comes from the offline catalog"},
		// After the --gpu catalog of the others, so this one wins.
		{name: "gpu forced false", cfg: testConfig(), args: []string{"--gpu", "false"}, password: testPassword},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			workdir := filepath.Join(t.TempDir(), "client")
			if tc.workdir != nil {
				tc.workdir(t, workdir)
			}
			args := []string{"--config", writeConfig(t, tc.cfg), "--workdir", workdir,
				"--addr", "127.0.0.1:0", "--terraform", tofu}
			if !strings.Contains(tc.name, "no --gpu") {
				args = append(args, "--gpu", "catalog")
			}
			s := startRun(t, testEnv(), append(args, tc.args...)...)

			if tc.workdir == nil {
				fi, err := os.Stat(workdir)
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "mode of the workdir the server created")
			}
			// The module was materialized: the workdir holds exactly the
			// embedded files (and what init wrote).
			local, err := terraform.Open("local")
			require.NoError(t, err)
			diff, err := local.Diff(workdir)
			require.NoError(t, err)
			assert.Empty(t, diff, "workdir differs from the embedded module")
			assert.FileExists(t, filepath.Join(workdir, "main.tf"))
			resp, err := http.Get(s.url + "/healthz")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode, "healthz")
			req, err := http.NewRequest(http.MethodGet, s.url+"/api/status", nil)
			require.NoError(t, err)
			req.SetBasicAuth(testUser, tc.password)
			resp, err = http.DefaultClient.Do(req)
			require.NoError(t, err)
			var st statusResponse
			assert.Equal(t, http.StatusOK, resp.StatusCode, "status")
			assert.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
			resp.Body.Close()
			assert.Zero(t, st.VMs, "VMs of a new workdir")
			assert.False(t, st.TFVars, "runtime tfvars in a new workdir")

			assert.Equal(t, exitOK, s.shutdown(), "exit code after shutdown")
			log := s.log.String()
			for _, w := range []string{"wrote module", "listening", "server stopped", tc.warn} {
				assert.Contains(t, log, w)
			}
			if tc.warn == "" {
				assert.NotContains(t, log, "WARN", "unexpected warning")
			}
		})
	}
}

// TestRunWorkdirProblems: run starts with a workdir that holds an earlier
// module (warning when it differs from the embedded one) and refuses one
// that holds something else.
func TestRunWorkdirProblems(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu")
	cfg := writeConfig(t, testConfig())
	args := func(workdir string, more ...string) []string {
		return append([]string{"--config", cfg, "--workdir", workdir, "--addr", "127.0.0.1:0",
			"--terraform", tofu, "--gpu", "catalog"}, more...)
	}

	t.Run("not a module", func(t *testing.T) {
		workdir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(workdir, "notes.txt"), []byte("mine"), 0o644))
		log := newLogSink()
		assert.Equal(t, exitFailure, run(t.Context(), args(workdir), log, getenvFrom(testEnv())), "exit code")
		assert.Contains(t, log.String(), "is neither empty nor an OpenTofu module directory")
		entries, _ := os.ReadDir(workdir)
		assert.Len(t, entries, 1, "the workdir holds notes.txt only")
	})

	t.Run("module directory", func(t *testing.T) {
		src := t.TempDir()
		require.NoError(t, terraform.Materialize("local", src))
		workdir := filepath.Join(t.TempDir(), "client")
		s := startRun(t, testEnv(), args(workdir, "--module", src)...)
		require.Equal(t, exitOK, s.shutdown())
		assert.Contains(t, s.log.String(), "wrote module")
		local, err := terraform.Open("local")
		require.NoError(t, err)
		diff, err := local.Diff(workdir)
		require.NoError(t, err)
		assert.Empty(t, diff, "the workdir holds the module of --module")
	})

	t.Run("edited module", func(t *testing.T) {
		workdir := filepath.Join(t.TempDir(), "client")
		s := startRun(t, testEnv(), args(workdir)...)
		require.Equal(t, exitOK, s.shutdown(), "first run")
		edited := filepath.Join(workdir, "outputs.tf")
		data, err := os.ReadFile(edited)
		require.NoError(t, err)
		data = append(data, "\n# edited by an operator\n"...)
		require.NoError(t, os.WriteFile(edited, data, 0o644))
		s = startRun(t, testEnv(), args(workdir)...)
		require.Equal(t, exitOK, s.shutdown(), "second run")
		log := s.log.String()
		assert.Contains(t, log, "workdir module differs from the embedded local module; using the workdir's files")
		assert.Contains(t, log, "outputs.tf")
		assert.NotContains(t, log, "wrote module", "the module was written over an existing one")
		got, err := os.ReadFile(edited)
		require.NoError(t, err)
		assert.Equal(t, data, got, "the operator's edit was overwritten")
	})
}
