package bootsim

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// builtinTripwires are the tripwires bash would still run as builtins, so
// that the stub on PATH never saw a call of them. Run turns kill off in
// its BASH_ENV prelude; TestBuiltinTripwires holds the list empty.
var builtinTripwires []string

// Every tripwire but the builtins is stubbed: a call of any of them is
// recorded with its arguments instead of acting (rm leaves the file, touch
// makes none), the boot goes on, and CheckTripwires fails the boot naming
// the call.
func TestEveryTripwireFailsTheBoot(t *testing.T) {
	for _, name := range Tripwires {
		if slices.Contains(builtinTripwires, name) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			script := "set -e\n" +
				"printf keep >\"$LABLINK_ROOT/victim\"\n" +
				name + " \"$LABLINK_ROOT/victim\" 'two words'\n" +
				name + " \"$LABLINK_ROOT/made\"\n" +
				"docker info\n"
			boot, err := Run(t.Context(), t.TempDir(), script, Options{})
			require.NoError(t, err, "%s: the stub succeeds so that the script goes on: %s", name, boot.Output)
			victim, made := filepath.Join(boot.Root, "victim"), filepath.Join(boot.Root, "made")
			want := []Call{
				{Cmd: name, Args: []string{victim, "two words"}},
				{Cmd: name, Args: []string{made}},
			}
			assert.Equal(t, want, boot.Tripped(), "%s: tripped calls", name)
			assert.Equal(t, append(slices.Clone(want), Call{Cmd: "docker", Args: []string{"info"}}), boot.Calls, "%s: all calls", name)
			data, err := os.ReadFile(victim)
			if assert.NoError(t, err, "%s acted on the file", name) {
				assert.Equal(t, "keep", string(data), "%s acted on the file", name)
			}
			assert.NoFileExists(t, made, "%s made a file", name)

			err = boot.CheckTripwires()
			var te *TripwireError
			require.ErrorAs(t, err, &te, "%s: CheckTripwires", name)
			assert.Equal(t, want, te.Calls, "%s: the error's calls", name)
			assert.Contains(t, err.Error(), name+` ["`+victim+`" "two words"]`, "%s: the error names the call", name)
		})
	}
}

// However a script reaches a tripwire on PATH (command, exec, a command
// substitution, a pipeline, eval, a background job, a nested bash), the
// call is recorded and fails the boot.
func TestTripwireRoutes(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		want         Call
	}{
		{"command", "command wget -q x\n", Call{Cmd: "wget", Args: []string{"-q", "x"}}},
		{"exec in a subshell", "(exec sudo -n true)\n", Call{Cmd: "sudo", Args: []string{"-n", "true"}}},
		{"command substitution", "v=$(whoami)\n", Call{Cmd: "whoami", Args: []string{}}},
		{"pipeline", "printf x | nc -l 4444\n", Call{Cmd: "nc", Args: []string{"-l", "4444"}}},
		{"eval", "eval 'pwned \"a b\"'\n", Call{Cmd: "pwned", Args: []string{"a b"}}},
		{"background job", "job() { apt-get install -y x; }\njob &\nwait\n", Call{Cmd: "apt-get", Args: []string{"install", "-y", "x"}}},
		{"nested bash", "\"$BASH\" -c 'crontab -r'\n", Call{Cmd: "crontab", Args: []string{"-r"}}},
		{"heredoc delimiter as a command", "EOF\n", Call{Cmd: "EOF", Args: []string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boot, err := Run(t.Context(), t.TempDir(), "set -e\n"+tc.script, Options{})
			require.NoError(t, err, "%s: %s", tc.name, boot.Output)
			assert.Equal(t, []Call{tc.want}, boot.Tripped(), tc.name)
			assert.Error(t, boot.CheckTripwires(), tc.name)
		})
	}
}

// The expected commands are recorded and are no tripwires: a boot that
// calls only them passes CheckTripwires. nvidia-smi is there only when
// Options.NvidiaSMI says the AMI has it; otherwise the call is "not found"
// and not recorded.
func TestExpectedCommandsDoNotTrip(t *testing.T) {
	script := "systemctl restart docker\ndocker info\ncurl -q --url http://example.invalid/\nnvidia-smi -pm 1 || echo no-nvidia\n"
	for _, nvidia := range []bool{false, true} {
		boot, err := Run(t.Context(), t.TempDir(), script, Options{NvidiaSMI: nvidia})
		require.NoError(t, err, "NvidiaSMI %v", nvidia)
		want := []Call{
			{Cmd: "systemctl", Args: []string{"restart", "docker"}},
			{Cmd: "docker", Args: []string{"info"}},
			{Cmd: "curl", Args: []string{"-q", "--url", "http://example.invalid/"}},
		}
		if nvidia {
			want = append(want, Call{Cmd: "nvidia-smi", Args: []string{"-pm", "1"}})
			assert.NotContains(t, string(boot.Output), "no-nvidia", "NvidiaSMI %v: output", nvidia)
		} else {
			assert.Contains(t, string(boot.Output), "nvidia-smi: command not found", "NvidiaSMI %v: output", nvidia)
		}
		assert.Equal(t, want, boot.Calls, "NvidiaSMI %v: calls", nvidia)
		assert.Empty(t, boot.Tripped(), "NvidiaSMI %v: tripped", nvidia)
		assert.NoError(t, boot.CheckTripwires(), "NvidiaSMI %v", nvidia)
	}
}

// The tripwires a boot script reaches as bash builtins are exactly
// builtinTripwires. A tripwire added to the list that is a builtin fails
// here, and so does a Run that disables a builtin (then the name leaves
// builtinTripwires and TestEveryTripwireFailsTheBoot covers it).
func TestBuiltinTripwires(t *testing.T) {
	script := "for c in"
	for _, name := range Tripwires {
		script += " " + quote(name)
	}
	script += "; do [[ $(type -t \"$c\") == builtin ]] && printf '%s\\n' \"$c\"; done; true\n"
	boot, err := Run(t.Context(), t.TempDir(), script, Options{})
	require.NoError(t, err, "%s", boot.Output)
	var got []string
	for line := range strings.Lines(string(boot.Output)) {
		got = append(got, strings.TrimSuffix(line, "\n"))
	}
	assert.Equal(t, builtinTripwires, got, "tripwires that are bash builtins")
	assert.Empty(t, boot.Calls, "type -t calls nothing")
}
