// Package bootsim runs a client VM's rendered boot script (the user_data
// of the client module) the way cloud-init would, but unprivileged and
// offline: under bash, with every path below a temporary root
// (LABLINK_ROOT), and with the commands a boot script might call replaced
// by stubs that record their arguments instead of acting.
//
// PATH holds nothing but those stubs and links to a few real [Tools], so a
// command that is neither is "not found". The stubs cover the commands the
// script is meant to call ([Expected]: curl, docker, systemctl, and
// nvidia-smi when [Options].NvidiaSMI says the AMI has it), which answer
// like a healthy EC2 instance and allocator would, and a tripwire set
// ([Tripwires]) of commands an injected value would reach for (wget,
// apt-get, sudo, rm, touch, id, pwned, ...). A safe script calls only the
// former, with exactly the expected arguments.
package bootsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
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

// Env reads the env file at EnvPath as docker run --env-file does; see
// ParseEnv.
func (b *Boot) Env() (map[string]string, error) {
	data, err := os.ReadFile(b.EnvPath())
	if err != nil {
		return nil, fmt.Errorf("bootsim: %w", err)
	}
	return ParseEnv(data)
}

// ParseEnv parses a docker env file: one KEY=VALUE per line, the value
// taken literally up to the end of the line (no quote removal, no $
// expansion, no trimming). It is stricter than docker, so that every file
// it accepts docker reads as the same map: a line without "=", a
// duplicate key, an empty line or a comment line, a key with whitespace,
// a CR (docker drops one before LF), and bytes that are not UTF-8 are all
// errors. Each error names its line.
func ParseEnv(data []byte) (map[string]string, error) {
	env := map[string]string{}
	if len(data) == 0 {
		return env, nil
	}
	if !utf8.Valid(data) {
		return nil, errors.New("bootsim: env file is not valid UTF-8")
	}
	text := strings.TrimSuffix(string(data), "\n")
	var errs []error
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		key, value, ok := strings.Cut(line, "=")
		switch {
		case strings.ContainsRune(line, '\r'):
			errs = append(errs, fmt.Errorf("line %d: carriage return", n))
		case line == "" || strings.HasPrefix(strings.TrimLeft(line, " \t"), "#"):
			errs = append(errs, fmt.Errorf("line %d: empty or comment line %q", n, line))
		case !ok:
			// docker would pass the variable of that name from its own
			// environment.
			errs = append(errs, fmt.Errorf("line %d: no '=' in %q", n, line))
		case key == "" || strings.ContainsAny(key, " \t\v\f"):
			errs = append(errs, fmt.Errorf("line %d: bad key %q", n, key))
		default:
			if _, dup := env[key]; dup {
				errs = append(errs, fmt.Errorf("line %d: duplicate key %s", n, key))
				continue
			}
			env[key] = value
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("bootsim: env file: %w", errors.Join(errs...))
	}
	return env, nil
}

// Tripped returns the calls of tripwire commands, in order.
func (b *Boot) Tripped() []Call {
	var out []Call
	for _, c := range b.Calls {
		if slices.Contains(Tripwires, c.Cmd) {
			out = append(out, c)
		}
	}
	return out
}

// CheckTripwires returns a *TripwireError listing the tripwire calls, or
// nil when there were none.
func (b *Boot) CheckTripwires() error {
	if t := b.Tripped(); len(t) > 0 {
		return &TripwireError{Calls: t}
	}
	return nil
}

// TripwireError reports calls of tripwire commands.
type TripwireError struct {
	Calls []Call
}

func (e *TripwireError) Error() string {
	var b strings.Builder
	b.WriteString("bootsim: the boot called tripwire commands:")
	for _, c := range e.Calls {
		fmt.Fprintf(&b, " %s %q;", c.Cmd, c.Args)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Want describes a boot for [Boot.WantCalls] in terms of the module's
// variables.
type Want struct {
	// LogGroup is whether cloud_init_output_log_group is set.
	LogGroup bool
	// AllocatorURL is allocator_url.
	AllocatorURL string
	// RegisterToken is register_token.
	RegisterToken string
	// VMName is {resource_prefix}-vm-{i}.
	VMName string
	// GPU is gpu_support. The container gets the GPU only when the boot's
	// Options.NvidiaSMI is set too.
	GPU bool
	// Image is image_name.
	Image string
}

// WantCalls are the exact commands the client module's boot script runs
// for w, given b.Options: a warm reboot (Options.ExistingContainer) stops
// after the container check; a first boot reads IMDS, registers, and
// starts the container.
func (b *Boot) WantCalls(w Want) []Call {
	var calls []Call
	add := func(cmd string, args ...string) { calls = append(calls, Call{Cmd: cmd, Args: args}) }
	if w.LogGroup {
		add("systemctl", "restart", "amazon-cloudwatch-agent")
	}
	add("docker", "info")
	add("docker", "container", "inspect", "lablink-client")
	if b.Options.ExistingContainer {
		return calls
	}
	curl := []string{"-q", "-fsS", "--max-time", "5", "--retry", "5"}
	add("curl", append(slices.Clone(curl), "-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 300", "--url", IMDSTokenURL)...)
	for _, u := range []string{IMDSInstanceIDURL, IMDSLocalIPv4URL} {
		add("curl", append(slices.Clone(curl), "-H", "X-aws-ec2-metadata-token: "+b.Options.IMDSToken, "--url", u)...)
	}
	calls = append(calls, Call{
		Cmd: "curl",
		Args: []string{"-q", "-fsS", "--max-time", "30", "--retry", "5", "--retry-connrefused",
			"-H", "@-", "-H", "Content-Type: application/json",
			"--url", strings.TrimSuffix(w.AllocatorURL, "/") + RegisterPath,
			"--data-binary", RegisterBody(w.VMName, b.Options.InstanceID, b.Options.PrivateIP)},
		Files: map[string]string{"-": "Authorization: Bearer " + w.RegisterToken + "\n"},
	})
	gpu := w.GPU && b.Options.NvidiaSMI
	if gpu {
		add("systemctl", "restart", "docker")
		add("docker", "info")
		add("nvidia-smi", "-pm", "1")
	}
	add("docker", "pull", "--", w.Image)
	run := []string{"run", "-dit", "--restart", "unless-stopped", "--name", "lablink-client",
		"--env-file", b.EnvPath(),
		"--mount", "type=bind,src=" + b.ConfigDir() + ",dst=/docker_scripts/,ro",
		"--network", "host"}
	if gpu {
		run = append(run, "--runtime=nvidia", "--gpus", "all")
	}
	add("docker", append(run, "--", w.Image)...)
	return calls
}

// RegisterBody is the JSON body of the registration request, byte for
// byte as the script builds it: the hostname JSON-encoded as OpenTofu's
// jsonencode does (Go's encoding/json, HTML characters escaped).
func RegisterBody(hostname, instanceID, privateIP string) string {
	h, _ := json.Marshal(hostname) // a string always marshals
	return fmt.Sprintf(`{"hostname":%s,"machine_identity":"%s","provider":"aws","endpoint_url":"ws://%s:6080","provider_metadata":{"private_ip":"%s","instance_id":"%s"}}`,
		h, instanceID, privateIP, privateIP, instanceID)
}

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
	for _, name := range Tools {
		p, err := exec.LookPath(name)
		if err != nil {
			return b, fmt.Errorf("bootsim: tool %s: %w", name, err)
		}
		if err := os.Symlink(p, filepath.Join(toolDir, name)); err != nil {
			return b, err
		}
	}
	if err := writeAnswers(answers, b.Options); err != nil {
		return b, err
	}
	stubs := map[string]string{
		"curl":   curlStub(log, answers),
		"docker": dockerStub(log, answers),
	}
	names := slices.Concat([]string{"systemctl"}, Tripwires)
	if b.Options.NvidiaSMI {
		names = append(names, "nvidia-smi")
	}
	for _, name := range names {
		stubs[name] = record(log, name) + "exit 0\n"
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(stubDir, name), []byte("#!"+bash+"\n"+body), 0o700); err != nil {
			return b, err
		}
	}
	path := filepath.Join(dir, "user_data.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		return b, err
	}
	cmd := exec.CommandContext(ctx, bash, path)
	cmd.Dir = dir
	cmd.Env = []string{
		"LABLINK_ROOT=" + b.Root,
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

func writeAnswers(dir string, o Options) error {
	files := map[string]string{
		"imds-token":    o.IMDSToken,
		"instance-id":   o.InstanceID,
		"local-ipv4":    o.PrivateIP,
		"register":      o.RegisterAnswer,
		"register-exit": strconv.Itoa(o.RegisterExit),
	}
	if o.ExistingContainer {
		files["existing-container"] = ""
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// record is the start of every stub: it appends one NUL-terminated record
// per call to log: name, argc, the arguments, the number of captured
// files, then name and contents of each (see Call.Files). Any byte but NUL
// survives, and no argument can fake a record. The stubs use bash builtins
// only, so they work on the script's restricted PATH. A stub that captures
// files fills the array files first.
func record(log, name string) string {
	return `printf '%s\0' ` + name + ` "$#" "$@" "$(( ${#files[@]} / 2 ))" "${files[@]}" >>` + quote(log) + "\n"
}

// curlStub records the call with the contents of its @name arguments and
// answers the IMDS and register URLs from the answers directory.
func curlStub(log, answers string) string {
	return `files=()
for a in "$@"; do
  case $a in
  @-) IFS= read -r -d '' c; files+=(- "$c") ;;
  @*) if [[ -f ${a#@} ]]; then IFS= read -r -d '' c <"${a#@}"; files+=("${a#@}" "$c"); fi ;;
  esac
done
` + record(log, "curl") + `answers=` + quote(answers) + `
for a in "$@"; do
  case $a in
  ` + IMDSTokenURL + `) f=imds-token ;;
  ` + IMDSInstanceIDURL + `) f=instance-id ;;
  ` + IMDSLocalIPv4URL + `) f=local-ipv4 ;;
  *` + RegisterPath + `) f=register ;;
  *) continue ;;
  esac
  IFS= read -r -d '' c <"$answers/$f"
  printf '%s' "$c"
  if [[ $f == register ]]; then
    read -r code <"$answers/register-exit"
    exit "$code"
  fi
  exit 0
done
exit 0
`
}

// dockerStub records the call; "docker container inspect" succeeds only
// when the answers say a container exists.
func dockerStub(log, answers string) string {
	return `files=()
` + record(log, "docker") + `if [[ $1 == container && $2 == inspect ]]; then
  if [[ -e ` + quote(filepath.Join(answers, "existing-container")) + ` ]]; then
    printf '[{"Name": "/%s"}]\n' "${@: -1}"
    exit 0
  fi
  printf 'Error: No such container: %s\n' "${@: -1}" >&2
  exit 1
fi
exit 0
`
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
	bad := fmt.Errorf("bootsim: bad call log %q", data)
	fields := bytes.Split(bytes.TrimSuffix(data, []byte{0}), []byte{0})
	count := func() (int, bool) {
		if len(fields) == 0 {
			return 0, false
		}
		n, err := strconv.Atoi(string(fields[0]))
		fields = fields[1:]
		return n, err == nil && n >= 0
	}
	var calls []Call
	for len(fields) > 0 {
		c := Call{Cmd: string(fields[0])}
		fields = fields[1:]
		n, ok := count()
		if !ok || len(fields) < n {
			return calls, bad
		}
		c.Args = make([]string, n)
		for i := range n {
			c.Args[i] = string(fields[i])
		}
		fields = fields[n:]
		nf, ok := count()
		if !ok || len(fields) < 2*nf {
			return calls, bad
		}
		for i := range nf {
			if c.Files == nil {
				c.Files = map[string]string{}
			}
			c.Files[string(fields[2*i])] = string(fields[2*i+1])
		}
		fields = fields[2*nf:]
		calls = append(calls, c)
	}
	return calls, nil
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
