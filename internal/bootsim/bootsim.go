// Package bootsim runs a client VM's rendered boot script (the user_data
// of the client module) the way cloud-init would, but unprivileged and
// offline: under bash, with every path below a temporary root
// (LABLINK_ROOT), and with the commands a boot script might call replaced
// by stubs on PATH that record their arguments instead of acting.
//
// The stubs cover the commands the script is meant to call (docker,
// systemctl) and a tripwire set of commands an injected value would reach
// for (curl, wget, apt-get, sudo, rm, touch, id, pwned, ...). A script
// that is safe calls only the former, with exactly the expected arguments.
package bootsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Expected are the commands a client boot script may call.
var Expected = []string{"docker", "systemctl"}

// Tripwires are commands a boot script must never call; each is stubbed so
// that a call is recorded rather than run.
var Tripwires = []string{
	"curl", "wget", "apt-get", "apt", "yum", "dnf", "snap", "pip", "pip3",
	"python", "python3", "perl", "ruby", "node", "nc", "ncat", "socat",
	"ssh", "scp", "sudo", "su", "rm", "touch", "id", "whoami",
	"chown", "mount", "kill", "reboot", "shutdown", "crontab", "git",
	"aws", "pwned", "EOF", "EOT", "END",
}

// Call is one recorded command.
type Call struct {
	Cmd  string
	Args []string
}

// Boot is the outcome of one simulated boot.
type Boot struct {
	// Root is the directory that stood for "/".
	Root string
	// Calls are the stubbed commands the script ran, in order.
	Calls []Call
	// Output is what the script wrote to stdout and stderr.
	Output []byte
}

// EnvPath is where the script writes the client container's env file.
func (b *Boot) EnvPath() string { return filepath.Join(b.Root, "etc", "lablink", "client.env") }

// CloudWatchPath is where the script writes the CloudWatch agent config.
func (b *Boot) CloudWatchPath() string {
	return filepath.Join(b.Root, "opt", "aws", "amazon-cloudwatch-agent", "etc", "amazon-cloudwatch-agent.json")
}

// Run runs script under bash in dir, which must be an empty directory the
// caller owns (a test's t.TempDir()). The script's root is dir/root. A
// script that exits non-zero is an error carrying its output; the Boot is
// returned either way.
func Run(ctx context.Context, dir, script string) (*Boot, error) {
	b := &Boot{Root: filepath.Join(dir, "root")}
	stubDir := filepath.Join(dir, "bin")
	log := filepath.Join(dir, "calls")
	for _, d := range []string{b.Root, stubDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return b, err
		}
	}
	for _, name := range append(append([]string(nil), Expected...), Tripwires...) {
		// One NUL-terminated record per call: name, argc, arguments. Any
		// byte but NUL survives, and no argument can fake a record.
		stub := "#!/bin/bash\nprintf '%s\\0' " + name + ` "$#" "$@" >>` + quote(log) + "\n"
		if err := os.WriteFile(filepath.Join(stubDir, name), []byte(stub), 0o700); err != nil {
			return b, err
		}
	}
	path := filepath.Join(dir, "user_data.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		return b, err
	}
	cmd := exec.CommandContext(ctx, "bash", path)
	cmd.Dir = dir
	cmd.Env = []string{
		"LABLINK_ROOT=" + b.Root,
		"PATH=" + stubDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + dir,
		"LANG=C",
	}
	out, runErr := cmd.CombinedOutput()
	b.Output = out
	calls, err := readCalls(log)
	b.Calls = calls
	if err != nil {
		return b, err
	}
	if runErr != nil {
		return b, fmt.Errorf("bootsim: %w\n%s", runErr, out)
	}
	return b, nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func readCalls(log string) ([]Call, error) {
	data, err := os.ReadFile(log)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	fields := bytes.Split(bytes.TrimSuffix(data, []byte{0}), []byte{0})
	var calls []Call
	for len(fields) >= 2 {
		n, err := strconv.Atoi(string(fields[1]))
		if err != nil || n < 0 || len(fields) < 2+n {
			return calls, fmt.Errorf("bootsim: bad call log %q", data)
		}
		c := Call{Cmd: string(fields[0]), Args: make([]string, n)}
		for i := range n {
			c.Args[i] = string(fields[2+i])
		}
		calls = append(calls, c)
		fields = fields[2+n:]
	}
	if len(fields) != 0 {
		return calls, fmt.Errorf("bootsim: bad call log %q", data)
	}
	return calls, nil
}

// EnvVar is one line of the client env file, in file order.
type EnvVar struct{ Key, Variable string }

// EnvFile lists the client.env keys in file order with the module
// variable each carries.
var EnvFile = []EnvVar{
	{"ALLOCATOR_URL", "allocator_url"},
	{"ALLOCATOR_PORT", "allocator_port"},
	{"ALLOCATOR_IP", "allocator_ip"},
	{"REPOSITORY", "repository"},
	{"SUBJECT_SOFTWARE", "subject_software"},
	{"RESOURCE_SUFFIX", "resource_suffix"},
	{"GPU_SUPPORT", "gpu_support"},
	{"STARTUP_ON_ERROR", "startup_on_error"},
	{"STARTUP_MAX_ATTEMPTS", "startup_max_attempts"},
	{"STARTUP_BASE_DELAY_SECONDS", "startup_base_delay_seconds"},
	{"STARTUP_SUCCESS_CHECK_B64", "startup_success_check_b64"},
	{"REGION", "region"},
	{"CLOUD_INIT_LOG_GROUP", "cloud_init_output_log_group"},
	{"MACHINE_TYPE", "machine_type"},
	{"CLIENT_AMI_ID", "client_ami_id"},
	{"IMAGE_NAME", "image_name"},
}

// WantEnvFile is the exact client.env for the variables' values as
// OpenTofu prints them in a template (numbers in decimal, bools as
// true/false); str returns that text for a variable name.
func WantEnvFile(str func(variable string) string) string {
	var b strings.Builder
	for _, kv := range EnvFile {
		b.WriteString(kv.Key + "=" + str(kv.Variable) + "\n")
	}
	return b.String()
}

// WantCalls are the exact commands a boot must run for the given image,
// GPU support and log group.
func (b *Boot) WantCalls(image string, gpu bool, logGroup string) []Call {
	run := []string{"run", "-d", "--restart", "unless-stopped", "--name", "lablink-client", "--env-file", b.EnvPath()}
	if gpu {
		run = append(run, "--gpus", "all")
	}
	var calls []Call
	if logGroup != "" {
		calls = append(calls, Call{Cmd: "systemctl", Args: []string{"restart", "amazon-cloudwatch-agent"}})
	}
	return append(calls,
		Call{Cmd: "docker", Args: []string{"pull", image}},
		Call{Cmd: "docker", Args: append(run, image)},
	)
}

// TemplateString is v as OpenTofu's template interpolation prints it: a
// string as it is, a bool as true or false, a number in decimal.
func TemplateString(v cty.Value) string {
	switch v.Type() {
	case cty.String:
		return v.AsString()
	case cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	}
	return v.AsBigFloat().Text('f', -1)
}
