package bootsim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Expected are the commands a client boot script may call. nvidia-smi is
// stubbed only when [Options].NvidiaSMI is set, so that "command -v
// nvidia-smi" tells the script whether the AMI has the NVIDIA driver.
var Expected = []string{"curl", "docker", "systemctl"}

// Tripwires are commands a boot script must never call; each is stubbed so
// that a call is recorded rather than run. [Boot.Tripped] lists the calls.
var Tripwires = []string{
	"wget", "apt-get", "apt", "yum", "dnf", "snap", "pip", "pip3",
	"python", "python3", "perl", "ruby", "node", "nc", "ncat", "socat",
	"ssh", "scp", "sudo", "su", "rm", "touch", "id", "whoami",
	"chown", "mount", "kill", "reboot", "shutdown", "crontab", "git",
	"aws", "pwned", "EOF", "EOT", "END",
}

// Tools are the real commands a boot script may run; PATH links to them.
var Tools = []string{"base64", "chmod", "install", "sleep"}

// Canned answers of the stubs when [Options] leaves them empty.
const (
	DefaultIMDSToken    = "AQAEAKlR7bLw1pZrcU3F9vyTdmE0RmFrZQ=="
	DefaultInstanceID   = "i-0123456789abcdef0"
	DefaultPrivateIP    = "10.0.42.7"
	DefaultClientSecret = "Zm9yLXRlc3RzLW9ubHktY2xpZW50LXNlY3JldC0wMTIz"
	// DefaultRegisterAnswer is pretty-printed as a Flask app in debug mode
	// would answer, so the script's line handling is exercised by default.
	DefaultRegisterAnswer = "{\n  \"client_id\": 7,\n  \"client_secret\": \"" + DefaultClientSecret + "\"\n}\n"
)

// IMDS and register URLs the curl stub answers. The register URL is any
// URL with this path suffix.
const (
	IMDSTokenURL      = "http://169.254.169.254/latest/api/token"
	IMDSInstanceIDURL = "http://169.254.169.254/latest/meta-data/instance-id"
	IMDSLocalIPv4URL  = "http://169.254.169.254/latest/meta-data/local-ipv4"
	RegisterPath      = "/api/v1/clients/register"
)

// Options set what the stubs answer. The zero value is a healthy first
// boot on a VM without the NVIDIA driver.
type Options struct {
	// IMDSToken is curl's answer to a PUT of IMDSTokenURL; default
	// DefaultIMDSToken.
	IMDSToken string
	// InstanceID is curl's answer for IMDSInstanceIDURL; default
	// DefaultInstanceID.
	InstanceID string
	// PrivateIP is curl's answer for IMDSLocalIPv4URL; default
	// DefaultPrivateIP.
	PrivateIP string
	// RegisterAnswer is curl's answer for a URL ending in RegisterPath,
	// byte for byte; default DefaultRegisterAnswer.
	RegisterAnswer string
	// RegisterExit is curl's exit status for the register URL; default 0.
	// 22 is what curl --fail returns for an HTTP error status.
	RegisterExit int
	// ExistingContainer makes "docker container inspect lablink-client"
	// succeed, as on a warm reboot; by default it fails (no container).
	ExistingContainer bool
	// NvidiaSMI puts an nvidia-smi stub on PATH; by default there is none.
	NvidiaSMI bool
}

func (o Options) withDefaults() Options {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&o.IMDSToken, DefaultIMDSToken)
	def(&o.InstanceID, DefaultInstanceID)
	def(&o.PrivateIP, DefaultPrivateIP)
	def(&o.RegisterAnswer, DefaultRegisterAnswer)
	return o
}

// Call is one recorded command.
type Call struct {
	Cmd  string
	Args []string
	// Files holds, for curl only, what curl would have read for each
	// "@name" argument (-H @file, --data-binary @file), keyed by name:
	// the file's contents at the time of the call, or for "@-" the whole
	// standard input under the key "-". Contents are cut at the first NUL
	// byte. Nil when there are none.
	Files map[string]string
}

// Boot is the outcome of one simulated boot.
type Boot struct {
	// Root is the directory that stood for "/".
	Root string
	// Options are the options of the run, defaults filled in.
	Options Options
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

// ConfigDir is the directory the container gets at /docker_scripts/.
func (b *Boot) ConfigDir() string { return filepath.Join(b.Root, "etc", "config") }

// StartupScriptPath is where the script writes the custom startup script.
func (b *Boot) StartupScriptPath() string { return filepath.Join(b.ConfigDir(), "custom-startup.sh") }

// DaemonJSONPath is where the script registers the NVIDIA runtime.
func (b *Boot) DaemonJSONPath() string { return filepath.Join(b.Root, "etc", "docker", "daemon.json") }

// Run runs script under bash in dir, which must be an empty directory the
// caller owns (a test's t.TempDir()), with the stubs answering as opts
// says. The script's root is dir/root. A script that exits non-zero is an
// error carrying its output; the Boot is returned either way.
func Run(ctx context.Context, dir, script string, opts Options) (*Boot, error) {
	b := &Boot{Root: filepath.Join(dir, "root"), Options: opts.withDefaults()}
	bash, err := exec.LookPath("bash")
	if err != nil {
		return b, fmt.Errorf("bootsim: %w", err)
	}
	stubDir := filepath.Join(dir, "bin")
	toolDir := filepath.Join(dir, "tools")
	answers := filepath.Join(dir, "answers")
	tmp := filepath.Join(dir, "tmp")
	log := filepath.Join(dir, "calls")
	for _, d := range []string{b.Root, stubDir, toolDir, answers, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return b, err
		}
	}
	if err := linkTools(toolDir); err != nil {
		return b, err
	}
	if err := writeAnswers(answers, b.Options); err != nil {
		return b, err
	}
	if err := writeStubs(stubDir, bash, log, answers, b.Options.NvidiaSMI); err != nil {
		return b, err
	}
	path := filepath.Join(dir, "user_data.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		return b, err
	}
	// Bash runs BASH_ENV before any script, nested ones included. The
	// tripwires that are bash builtins are turned off there, so that PATH
	// finds their stubs: an injected kill must be recorded, not run.
	prelude := filepath.Join(dir, "prelude.sh")
	if err := os.WriteFile(prelude, []byte("enable -n kill\n"), 0o600); err != nil {
		return b, err
	}
	cmd := exec.CommandContext(ctx, bash, path)
	cmd.Dir = dir
	cmd.Env = []string{
		"LABLINK_ROOT=" + b.Root,
		"BASH_ENV=" + prelude,
		"PATH=" + stubDir + string(os.PathListSeparator) + toolDir,
		"HOME=" + dir,
		"TMPDIR=" + tmp,
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
		return b, fmt.Errorf("bootsim: %w\n%s", errors.Join(runErr, ctx.Err()), out)
	}
	return b, nil
}
