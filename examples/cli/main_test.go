package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/ec2fake"
	"github.com/lablink-go/lablink/tfvars"
)

// mainArgsEnv, when set, makes the test binary run main with the JSON
// list of arguments it holds instead of the tests, so that a test can run
// the CLI as the process an operator starts, with its real stderr.
const mainArgsEnv = "LABLINK_CLI_TEST_MAIN_ARGS"

func TestMain(m *testing.M) {
	if v, ok := os.LookupEnv(mainArgsEnv); ok {
		var args []string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			panic(err)
		}
		os.Args = append(os.Args[:1], args...)
		main()
	}
	os.Exit(m.Run())
}

// runMain runs the CLI as a process with args and an environment of its
// own: PATH, a HOME of its own, empty AWS config and credentials files,
// and extra; nothing else of the machine running the tests.
func runMain(t *testing.T, extra map[string]string, args ...string) result {
	t.Helper()
	p := startMain(t, extra, args...)
	return p.wait(t)
}

// mainProcess is the CLI running as a process of its own.
type mainProcess struct {
	cmd            *exec.Cmd
	stdout, stderr *bytes.Buffer
}

// startMain starts the CLI as runMain runs it.
func startMain(t *testing.T, extra map[string]string, args ...string) *mainProcess {
	t.Helper()
	js, err := json.Marshal(args)
	require.NoError(t, err)
	home := t.TempDir()
	cfgFile, credFile := filepath.Join(home, "aws-config"), filepath.Join(home, "aws-credentials")
	require.NoError(t, os.WriteFile(cfgFile, nil, 0o600))
	require.NoError(t, os.WriteFile(credFile, nil, 0o600))
	env := []string{mainArgsEnv + "=" + string(js), "PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_CONFIG_FILE=" + cfgFile, "AWS_SHARED_CREDENTIALS_FILE=" + credFile}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	p := &mainProcess{cmd: exec.CommandContext(t.Context(), os.Args[0]), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	require.NoError(t, p.cmd.Start())
	return p
}

// wait waits for the process to end and returns what it did.
func (p *mainProcess) wait(t *testing.T) result {
	t.Helper()
	err := p.cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code: code, stdout: p.stdout.String(), stderr: p.stderr.String()}
}

// TestREADMECommandQuiet runs the README's first command as a process on
// a machine without AWS credentials, the instance metadata client on
// (AWS_EC2_METADATA_DISABLED unset): it renders from the catalog, and
// stderr holds the CLI's own lines only, no "WARN falling back to IMDSv1"
// of the SDK. Something at the instance metadata address that refuses a
// session token with 403 is what makes the SDK warn: a test server here,
// and, in the second case, whatever this machine has at 169.254.169.254
// (an answer of 403 on the build machine; EC2 requests, should it hand out
// credentials, go to a fake).
func TestREADMECommandQuiet(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	t.Cleanup(refusing.Close)
	ec2 := ec2fake.New(t)
	ec2.AddDefaults()
	readme := []string{"render", "--allocator-ip", ip, "--allocator-sg-id", sg}
	for name, env := range map[string]map[string]string{
		"imds refusing":       {"AWS_EC2_METADATA_SERVICE_ENDPOINT": refusing.URL},
		"this machine's imds": {"AWS_ENDPOINT_URL_EC2": ec2.URL},
	} {
		t.Run(name, func(t *testing.T) {
			r := runMain(t, env, readme...)
			require.Equal(t, exitOK, r.code, "%v", r)
			vals := parseTFVars(t, []byte(r.stdout), tfvars.HCL)
			assert.True(t, boolean(t, vals, "gpu_support"), "g4dn.xlarge")
			for l := range strings.Lines(r.stderr) {
				assert.True(t, strings.HasPrefix(l, "render: "), "a stderr line not the CLI's: %q", l)
				assert.NotContains(t, l, "WARN")
			}
			if ec2.Requests() == 0 {
				assert.Contains(t, r.stderr, "render: no AWS credentials; GPU support from the offline catalog taken ")
			}
		})
	}
}
