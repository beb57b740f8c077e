package bootsim

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunRecordsCalls(t *testing.T) {
	// Arguments with spaces, quotes, newlines and empty strings, a header
	// on stdin and one in a file: each must come back as it was passed.
	script := `set -eu
printf 'X-File: from a file\n' >"$LABLINK_ROOT/h"
docker info
docker run --name 'a b' "" $'two\nlines' "it's"
systemctl restart amazon-cloudwatch-agent
curl -q -H @- -H @"$LABLINK_ROOT/h" -H @/nonexistent --url ` + IMDSTokenURL + ` <<<'Authorization: Bearer t0k'
`
	dir := t.TempDir()
	boot, err := Run(t.Context(), dir, script, Options{})
	require.NoError(t, err)
	want := []Call{
		{Cmd: "docker", Args: []string{"info"}},
		{Cmd: "docker", Args: []string{"run", "--name", "a b", "", "two\nlines", "it's"}},
		{Cmd: "systemctl", Args: []string{"restart", "amazon-cloudwatch-agent"}},
		{Cmd: "curl", Args: []string{"-q", "-H", "@-", "-H", "@" + filepath.Join(boot.Root, "h"), "-H", "@/nonexistent", "--url", IMDSTokenURL},
			Files: map[string]string{
				"-":                           "Authorization: Bearer t0k\n",
				filepath.Join(boot.Root, "h"): "X-File: from a file\n",
			}},
	}
	assert.Equal(t, want, boot.Calls)
	assert.NoError(t, boot.CheckTripwires())
	assert.Empty(t, boot.Tripped())
	assert.Equal(t, filepath.Join(dir, "root"), boot.Root)
}

func TestStubAnswers(t *testing.T) {
	// Each answer goes to a file so the test sees its exact bytes.
	script := `set -u
out=$LABLINK_ROOT
curl -X PUT --url ` + IMDSTokenURL + ` >"$out/token"; echo $? >"$out/token.rc"
curl --url ` + IMDSInstanceIDURL + ` >"$out/id"
curl --url ` + IMDSLocalIPv4URL + ` >"$out/ip"
curl --url https://allocator.example` + RegisterPath + ` >"$out/register"; echo $? >"$out/register.rc"
curl --url https://elsewhere.example/ >"$out/other"
docker container inspect lablink-client >/dev/null 2>&1; echo $? >"$out/inspect.rc"
command -v nvidia-smi >/dev/null; echo $? >"$out/nvidia.rc"
command -v python3 >/dev/null; echo $? >"$out/python.rc"
`
	read := func(t *testing.T, b *Boot, name string) string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(b.Root, name))
		require.NoError(t, err)
		return string(data)
	}
	tests := []struct {
		name string
		opts Options
		want map[string]string
	}{
		{"defaults", Options{}, map[string]string{
			"token": DefaultIMDSToken, "token.rc": "0\n", "id": DefaultInstanceID, "ip": DefaultPrivateIP,
			"register": DefaultRegisterAnswer, "register.rc": "0\n", "other": "",
			"inspect.rc": "1\n", "nvidia.rc": "1\n", "python.rc": "0\n",
		}},
		{"chosen", Options{
			IMDSToken: "tok", InstanceID: "i-00000000000000001", PrivateIP: "192.0.2.9",
			RegisterAnswer: "{\"client_secret\": \"s\"}\r\n\n", RegisterExit: 22,
			ExistingContainer: true, NvidiaSMI: true,
		}, map[string]string{
			"token": "tok", "token.rc": "0\n", "id": "i-00000000000000001", "ip": "192.0.2.9",
			"register": "{\"client_secret\": \"s\"}\r\n\n", "register.rc": "22\n", "other": "",
			"inspect.rc": "0\n", "nvidia.rc": "0\n", "python.rc": "0\n",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			boot, err := Run(t.Context(), t.TempDir(), script, tc.opts)
			require.NoError(t, err)
			for name, want := range tc.want {
				assert.Equal(t, want, read(t, boot, name), "%s: %s", tc.name, name)
			}
		})
	}
}

func TestPathHoldsOnlyStubsAndTools(t *testing.T) {
	// A command that is neither a stub nor a tool is not found, even when
	// the machine running the test has it.
	boot, err := Run(t.Context(), t.TempDir(), "set -e\nls /\n", Options{})
	require.Error(t, err)
	assert.Contains(t, string(boot.Output), "ls: command not found")
	assert.Empty(t, boot.Calls)

	boot, err = Run(t.Context(), t.TempDir(), "set -e\nprintf 'aGk=' | base64 -d >\"$LABLINK_ROOT/f\"\nchmod 0640 \"$LABLINK_ROOT/f\"\ninstall -d -m 0700 \"$LABLINK_ROOT/d\"\nsleep 0\n", Options{})
	require.NoError(t, err, "every tool runs")
	data, err := os.ReadFile(filepath.Join(boot.Root, "f"))
	require.NoError(t, err)
	assert.Equal(t, "hi", string(data))
}

func TestTripwires(t *testing.T) {
	// What an injected value would run: the calls are recorded, not run,
	// and CheckTripwires names them.
	script := "rm -rf /\n$(printf pwned) now\necho `id`\ndocker info\n"
	boot, err := Run(t.Context(), t.TempDir(), script, Options{})
	require.NoError(t, err, "tripwire stubs succeed so the script goes on")
	want := []Call{
		{Cmd: "rm", Args: []string{"-rf", "/"}},
		{Cmd: "pwned", Args: []string{"now"}},
		{Cmd: "id", Args: []string{}},
	}
	assert.Equal(t, want, boot.Tripped())
	assert.Len(t, boot.Calls, 4, "the docker call is recorded too")

	err = boot.CheckTripwires()
	var te *TripwireError
	require.True(t, errors.As(err, &te), "CheckTripwires = %v, want a *TripwireError", err)
	assert.Equal(t, want, te.Calls)
	for _, s := range []string{`rm ["-rf" "/"]`, `pwned ["now"]`, "id []"} {
		assert.Contains(t, err.Error(), s)
	}
}

func TestFailingScript(t *testing.T) {
	boot, err := Run(t.Context(), t.TempDir(), "docker info\necho bye >&2\nexit 3\n", Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exit status 3")
	assert.Contains(t, err.Error(), "bye")
	assert.Equal(t, []Call{{Cmd: "docker", Args: []string{"info"}}}, boot.Calls, "calls are recorded on failure too")
}

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    map[string]string
		wantErr string
	}{
		{name: "empty", data: "", want: map[string]string{}},
		{name: "literal values", data: "A=1\nB=\nC=x=y\nD= 'q' \"$HOME\" `id` $(id) \\n \n",
			want: map[string]string{"A": "1", "B": "", "C": "x=y", "D": ` 'q' "$HOME" ` + "`id`" + ` $(id) \n `}},
		{name: "no final newline", data: "A=1\nB=2", want: map[string]string{"A": "1", "B": "2"}},
		{name: "unicode", data: "A=ünï\u202e\n", want: map[string]string{"A": "ünï\u202e"}},
		{name: "duplicate", data: "A=1\nA=2\n", wantErr: "line 2: duplicate key A"},
		{name: "no equals", data: "A=1\nHOME\n", wantErr: `line 2: no '=' in "HOME"`},
		{name: "empty line", data: "A=1\n\nB=2\n", wantErr: "line 2: empty"},
		{name: "trailing empty line", data: "A=1\n\n", wantErr: "line 2: empty"},
		{name: "comment", data: "# x=1\n", wantErr: "line 1: empty or comment"},
		{name: "carriage return", data: "A=1\r\n", wantErr: "line 1: carriage return"},
		{name: "empty key", data: "=1\n", wantErr: `line 1: bad key ""`},
		{name: "key with space", data: "A B=1\n", wantErr: `line 1: bad key "A B"`},
		{name: "not utf-8", data: "A=\xff\n", wantErr: "not valid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEnv([]byte(tc.data))
			if tc.wantErr != "" {
				require.Error(t, err, tc.name)
				assert.Contains(t, err.Error(), tc.wantErr, tc.name)
				assert.Nil(t, got, tc.name)
				return
			}
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.want, got, tc.name)
		})
	}
}

func TestBootEnv(t *testing.T) {
	script := "install -d -m 0700 \"$LABLINK_ROOT/etc/lablink\"\nprintf 'A=$(x)\\nB=2\\n' >\"$LABLINK_ROOT/etc/lablink/client.env\"\n"
	boot, err := Run(t.Context(), t.TempDir(), script, Options{})
	require.NoError(t, err)
	env, err := boot.Env()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"A": "$(x)", "B": "2"}, env)

	boot, err = Run(t.Context(), t.TempDir(), "", Options{})
	require.NoError(t, err)
	_, err = boot.Env()
	assert.ErrorIs(t, err, os.ErrNotExist, "no env file")
}

func TestRegisterBody(t *testing.T) {
	got := RegisterBody(`a"<b>&`, "i-0123456789abcdef0", "10.1.2.3")
	want := `{"hostname":"a\"\u003cb\u003e\u0026","machine_identity":"i-0123456789abcdef0","provider":"aws","endpoint_url":"ws://10.1.2.3:6080","provider_metadata":{"private_ip":"10.1.2.3","instance_id":"i-0123456789abcdef0"}}`
	assert.Equal(t, want, got)
}

func TestWantCalls(t *testing.T) {
	b := &Boot{Root: "/r", Options: Options{}.withDefaults()}
	w := Want{AllocatorURL: "https://a.example/", RegisterToken: "tok", VMName: "p-vm-1", GPU: true, Image: "img"}
	calls := b.WantCalls(w)
	cmds := callStrings(calls)
	// GPU requested, but no nvidia-smi: no GPU flags.
	assert.NotContains(t, strings.Join(cmds, "\n"), "--gpus")
	assert.Contains(t, cmds, "docker pull -- img")
	assert.Equal(t, "https://a.example"+RegisterPath, calls[5].Args[slices.Index(calls[5].Args, "--url")+1], "no double slash")
	assert.Equal(t, map[string]string{"-": "Authorization: Bearer tok\n"}, calls[5].Files)

	b.Options.NvidiaSMI = true
	assert.Contains(t, strings.Join(callStrings(b.WantCalls(w)), "\n"), "--runtime=nvidia --gpus all -- img")

	b.Options.ExistingContainer = true
	assert.Equal(t, []string{"docker info", "docker container inspect lablink-client"}, callStrings(b.WantCalls(w)))
}

func callStrings(calls []Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Cmd+" "+strings.Join(c.Args, " "))
	}
	return out
}
