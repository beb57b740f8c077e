package bootsim

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// writeAnswers writes what the stubs answer into dir, a file per answer,
// which the stubs read when called.
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

// linkTools links each of Tools into dir, so that PATH reaches them.
func linkTools(dir string) error {
	for _, name := range Tools {
		p, err := exec.LookPath(name)
		if err != nil {
			return fmt.Errorf("bootsim: tool %s: %w", name, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// writeStubs writes a stub into dir for every expected and tripwire
// command (nvidia-smi only when nvidia is set), each a bash script that
// appends its call to log and answers from the answers directory.
func writeStubs(dir, bash, log, answers string, nvidia bool) error {
	stubs := map[string]string{
		"curl":   curlStub(log, answers),
		"docker": dockerStub(log, answers),
	}
	names := slices.Concat([]string{"systemctl"}, Tripwires)
	if nvidia {
		names = append(names, "nvidia-smi")
	}
	for _, name := range names {
		stubs[name] = record(log, name) + "exit 0\n"
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!"+bash+"\n"+body), 0o700); err != nil {
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

// readCalls parses the log the stubs append to (see record); no log
// means no calls.
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
