package terraform

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink/internal/bootsim"
	"github.com/lablink-go/lablink/internal/tofutest"
)

// The registration answer the tests choose: pretty-printed with CRLF line
// ends, and with strings the shell would interpret in any other quoting.
const (
	testSecret   = "chosen-secret_0123456789-ABCDEFGHIJKLMNOPQRSTU"
	testAnswer   = "{\r\n  \"client_id\": 3,\r\n  \"client_secret\": \"" + testSecret + "\",\r\n  \"note\": \"$(pwned) `pwned` 'q' \\\"x\\\" ${HOME} ; pwned\"\r\n}\r\n"
	testResponse = `{  "client_id": 3,  "client_secret": "` + testSecret + `",  "note": "$(pwned) ` + "`pwned`" + ` 'q' \"x\" ${HOME} ; pwned"}`
	testInstance = "i-0abcdef1234567890"
	testIP       = "10.20.30.40"
)

// startupScript are the bytes of the custom startup script the tests
// choose: what the shell, OpenTofu's template engine and HCL would each
// interpret, CRLF, a NUL, bytes that are not UTF-8, and no final newline.
var startupScript = []byte("#!/bin/bash\necho \"$(pwned)\" `pwned` ${HOME} %{ if true }x%{ endif } '\\''\r\n\x00\xff\xfe; pwned | pwned &\nlast line")

// fullEnv is the container environment for fullVars as VM number vm.
func fullEnv(vm int) map[string]string {
	return map[string]string{
		"ALLOCATOR_HOST":             testAllocatorIP,
		"ALLOCATOR_URL":              testAllocatorURL,
		"ALLOCATOR_PORT":             "8443",
		"TUTORIAL_REPO_TO_CLONE":     testRepository,
		"VM_NAME":                    fmt.Sprintf("%s-vm-%d", testPrefix, vm),
		"SUBJECT_SOFTWARE":           testSoftware,
		"STARTUP_ON_ERROR":           "fail",
		"STARTUP_MAX_ATTEMPTS":       "5",
		"STARTUP_BASE_DELAY_SECONDS": "7",
		"STARTUP_SUCCESS_CHECK_B64":  testSuccessCheck,
		"AGENT_TOKEN":                testAgentToken,
		"CLIENT_SECRET":              testSecret,
		"REGISTER_RESPONSE":          testResponse,
	}
}

var chosenAnswers = bootsim.Options{InstanceID: testInstance, PrivateIP: testIP, RegisterAnswer: testAnswer}

// bootCase is one VM boot: the module's variables, which VM (from 1), the
// stubs' answers, and what the VM must end up with.
type bootCase struct {
	name    string
	vars    vars
	vm      int
	opts    bootsim.Options
	env     map[string]string
	want    bootsim.Want
	script  []byte // custom startup script; nil for none
	warning string // a line the boot must print
}

func bootCases(t *testing.T) []bootCase {
	scriptPath := filepath.Join(t.TempDir(), "custom start.sh")
	require.NoError(t, os.WriteFile(scriptPath, startupScript, 0o644))
	withScript := fullVars(2).with("custom_startup_script_path", cty.StringVal(scriptPath))
	full := bootsim.Want{LogGroup: true, AllocatorURL: testAllocatorURL, RegisterToken: testRegisterToken, VMName: testPrefix + "-vm-1", Image: testImage}
	gpu := full
	gpu.GPU = true
	gpu.LogGroup = false
	second := full
	second.VMName = testPrefix + "-vm-2"
	defaults := bootsim.Want{AllocatorURL: "https://192.0.2.1", RegisterToken: testRegisterToken, VMName: "sleap-lablink-client-prod-vm-1", GPU: true,
		Image: "ghcr.io/talmolab/lablink-client-base-image:latest"}
	gpuVars := fullVars(1).with("gpu_support", cty.True).with("cloud_init_output_log_group", cty.StringVal(""))
	withDriver := chosenAnswers
	withDriver.NvidiaSMI = true

	return []bootCase{
		{name: "cpu, log group, custom script", vars: withScript, vm: 1, opts: chosenAnswers, env: fullEnv(1), want: full, script: startupScript},
		{name: "second VM", vars: withScript, vm: 2, opts: chosenAnswers, env: fullEnv(2), want: second, script: startupScript},
		{name: "gpu with driver", vars: gpuVars, vm: 1, opts: withDriver, env: fullEnv(1), want: gpu},
		{name: "gpu without driver runs on the cpu", vars: gpuVars, vm: 1, opts: chosenAnswers, env: fullEnv(1), want: gpu,
			warning: "lablink: warning: gpu_support is true but nvidia-smi is missing; the client runs on the CPU"},
		{name: "cpu machine on a gpu ami", vars: fullVars(1), vm: 1, opts: withDriver, env: fullEnv(1), want: full},
		{name: "defaults", vars: requiredVars(1), vm: 1, opts: bootsim.Options{}, want: defaults, env: map[string]string{
			"ALLOCATOR_HOST":             "192.0.2.1",
			"ALLOCATOR_URL":              "https://192.0.2.1",
			"ALLOCATOR_PORT":             "443",
			"TUTORIAL_REPO_TO_CLONE":     "",
			"VM_NAME":                    "sleap-lablink-client-prod-vm-1",
			"SUBJECT_SOFTWARE":           "sleap",
			"STARTUP_ON_ERROR":           "continue",
			"STARTUP_MAX_ATTEMPTS":       "3",
			"STARTUP_BASE_DELAY_SECONDS": "30",
			"STARTUP_SUCCESS_CHECK_B64":  "",
			"AGENT_TOKEN":                testAgentToken,
			"CLIENT_SECRET":              bootsim.DefaultClientSecret,
			"REGISTER_RESPONSE":          `{  "client_id": 7,  "client_secret": "` + bootsim.DefaultClientSecret + `"}`,
		}},
	}
}

// renderScripts applies the local module with v and returns its scripts.
func renderScripts(t *testing.T, v vars) []string {
	t.Helper()
	tf := newLocal(t)
	require.NoError(t, apply(t, tf, v), "apply")
	return userData(t, tf)
}

// TestVMNumber: the script is rendered once and each VM's number written
// where the placeholder stands, which the template's own text holds
// once; the scripts of VMs 1 to 12 differ in that number and nothing else.
func TestVMNumber(t *testing.T) {
	t.Parallel()
	const placeholder = "@LABLINK_VM_NUMBER@"
	assert.Equal(t, 1, strings.Count(string(readModuleFile(t, "local", "user_data.sh.tftpl")), placeholder), "placeholders in the template")
	scripts := renderScripts(t, fullVars(12))
	require.Len(t, scripts, 12)
	for i, s := range scripts {
		assert.NotContains(t, s, placeholder, "VM %d", i+1)
		want := strings.Replace(scripts[0], "\nvm_number=1\n", fmt.Sprintf("\nvm_number=%d\n", i+1), 1)
		assert.Equal(t, want, s, "VM %d's script: VM 1's with its number", i+1)
	}
}

// TestBoot renders the boot script with the real local module and runs it
// as a simulated boot. The container must get exactly the names start.sh
// reads with the values the test chose, registration must carry the
// bearer token on stdin and the JSON body upstream's allocator expects,
// the custom startup script must arrive byte for byte, and the GPU is used
// only when both the variable and the AMI have it.
func TestBoot(t *testing.T) {
	t.Parallel()
	for _, tc := range bootCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			scripts := renderScripts(t, tc.vars)
			require.GreaterOrEqual(t, len(scripts), tc.vm)
			boot, err := bootsim.Run(t.Context(), t.TempDir(), scripts[tc.vm-1], tc.opts)
			require.NoError(t, err)
			checkBoot(t, tc, boot)
		})
	}
}

func checkBoot(t *testing.T, tc bootCase, boot *bootsim.Boot) {
	t.Helper()
	assert.NoError(t, boot.CheckTripwires())
	if diff := cmp.Diff(boot.WantCalls(tc.want), boot.Calls); diff != "" {
		t.Errorf("%s: commands (-want +got):\n%s", tc.name, diff)
	}

	env, err := boot.Env()
	require.NoError(t, err)
	assert.ElementsMatch(t, bootsim.EnvNames(), slices.Collect(maps.Keys(env)), "%s: env names", tc.name)
	if diff := cmp.Diff(tc.env, env); diff != "" {
		t.Errorf("%s: container env (-want +got):\n%s", tc.name, diff)
	}

	// The registration request, read back rather than compared as text.
	var reg *bootsim.Call
	for i, c := range boot.Calls {
		if c.Cmd == "curl" && slices.Contains(c.Args, "--data-binary") {
			reg = &boot.Calls[i]
		}
	}
	require.NotNil(t, reg, "%s: no registration request", tc.name)
	assert.Equal(t, tc.want.AllocatorURL+"/api/v1/clients/register", reg.Args[slices.Index(reg.Args, "--url")+1])
	assert.Equal(t, "Authorization: Bearer "+tc.want.RegisterToken+"\n", reg.Files["-"], "%s: header on stdin", tc.name)
	for _, a := range reg.Args {
		assert.NotContains(t, a, tc.want.RegisterToken, "%s: the register token is on curl's command line", tc.name)
	}
	var body struct {
		Hostname         string            `json:"hostname"`
		MachineIdentity  string            `json:"machine_identity"`
		Provider         string            `json:"provider"`
		EndpointURL      string            `json:"endpoint_url"`
		ProviderMetadata map[string]string `json:"provider_metadata"`
	}
	dec := json.NewDecoder(strings.NewReader(reg.Args[slices.Index(reg.Args, "--data-binary")+1]))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&body), "%s: registration body", tc.name)
	id, ip := boot.Options.InstanceID, boot.Options.PrivateIP
	assert.Equal(t, tc.want.VMName, body.Hostname)
	assert.Equal(t, id, body.MachineIdentity)
	assert.Equal(t, "aws", body.Provider)
	assert.Equal(t, "ws://"+ip+":6080", body.EndpointURL)
	assert.Equal(t, map[string]string{"private_ip": ip, "instance_id": id}, body.ProviderMetadata)

	got, err := os.ReadFile(boot.StartupScriptPath())
	require.NoError(t, err)
	assert.Equal(t, string(tc.script), string(got), "%s: custom startup script", tc.name)
	checkMode(t, boot.StartupScriptPath(), 0o755)
	checkMode(t, boot.ConfigDir(), 0o755)
	checkMode(t, boot.EnvPath(), 0o600)
	checkMode(t, filepath.Dir(boot.EnvPath()), 0o700)

	_, err = os.Stat(boot.CloudWatchPath())
	assert.Equal(t, tc.want.LogGroup, err == nil, "%s: CloudWatch config written: %v", tc.name, err)
	_, err = os.Stat(boot.DaemonJSONPath())
	assert.Equal(t, tc.want.GPU && boot.Options.NvidiaSMI, err == nil, "%s: daemon.json written: %v", tc.name, err)
	if tc.warning != "" {
		assert.Contains(t, string(boot.Output), tc.warning)
	}
}

func checkMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, want, fi.Mode().Perm(), "mode of %s", path)
}

// TestBootWarmReboot: user_data runs on every boot. With the container of
// an earlier boot present, the script provisions nothing: no metadata, no
// registration (which would mint a secret the container lacks), no env
// file, no new container.
func TestBootWarmReboot(t *testing.T) {
	t.Parallel()
	scripts := renderScripts(t, fullVars(1))
	opts := chosenAnswers
	opts.ExistingContainer = true
	boot, err := bootsim.Run(t.Context(), t.TempDir(), scripts[0], opts)
	require.NoError(t, err)
	want := []bootsim.Call{
		{Cmd: "systemctl", Args: []string{"restart", "amazon-cloudwatch-agent"}},
		{Cmd: "docker", Args: []string{"info"}},
		{Cmd: "docker", Args: []string{"container", "inspect", "lablink-client"}},
	}
	assert.Equal(t, want, boot.Calls)
	assert.Equal(t, want, boot.WantCalls(bootsim.Want{LogGroup: true}))
	_, err = os.Stat(boot.EnvPath())
	assert.ErrorIs(t, err, fs.ErrNotExist, "env file")
	assert.Contains(t, string(boot.Output), "warm reboot")
}

// TestBootRefusesBadAnswers: what IMDS and the allocator answer is used
// only when it matches a strict pattern. Otherwise the boot fails with a
// message, before the env file is written or the container started.
func TestBootRefusesBadAnswers(t *testing.T) {
	t.Parallel()
	scripts := renderScripts(t, fullVars(1))
	tests := []struct {
		name string
		opts bootsim.Options
		msg  string
	}{
		{"no client_secret", bootsim.Options{RegisterAnswer: `{"client_id": 3}`}, "the allocator's registration answer holds no well-formed client_secret"},
		{"secret outside the URL-safe alphabet", bootsim.Options{RegisterAnswer: `{"client_secret": "abc+def/ghi="}`}, "the allocator's registration answer holds no well-formed client_secret"},
		{"secret that is a shell expansion", bootsim.Options{RegisterAnswer: `{"client_secret": "$(pwned)"}`}, "the allocator's registration answer holds no well-formed client_secret"},
		{"secret that is not a string", bootsim.Options{RegisterAnswer: `{"client_secret": 12345}`}, "the allocator's registration answer holds no well-formed client_secret"},
		{"secret inside another string", bootsim.Options{RegisterAnswer: `{"error": "\"client_secret\": \"abc\""}`}, "the allocator's registration answer holds no well-formed client_secret"},
		{"not JSON", bootsim.Options{RegisterAnswer: "<html>502 Bad Gateway</html>"}, "the allocator's registration answer holds no well-formed client_secret"},
		{"HTTP error", bootsim.Options{RegisterExit: 22}, "registration with the allocator failed"},
		{"bad instance id", bootsim.Options{InstanceID: `i-0123"; pwned; "`}, "malformed instance id"},
		{"bad private ip", bootsim.Options{PrivateIP: "10.0.0.1\nX: y"}, "malformed private IP"},
		{"bad IMDS token", bootsim.Options{IMDSToken: "tok\r\nX-Injected: 1"}, "malformed IMDSv2 token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			boot, err := bootsim.Run(t.Context(), t.TempDir(), scripts[0], tc.opts)
			require.Error(t, err, "%s: boot succeeded", tc.name)
			assert.Contains(t, string(boot.Output), "lablink: "+tc.msg)
			assert.NoError(t, boot.CheckTripwires())
			for _, c := range boot.Calls {
				assert.False(t, c.Cmd == "docker" && len(c.Args) > 0 && (c.Args[0] == "run" || c.Args[0] == "pull"), "%s: docker %v ran", tc.name, c.Args)
			}
			_, err = os.Stat(boot.EnvPath())
			assert.ErrorIs(t, err, fs.ErrNotExist, "%s: env file written", tc.name)
		})
	}
}

// hostile is a value no validation rule would let through: quotes,
// command substitutions, backticks, expansions, template sequences, shell
// operators, a tab and characters beyond ASCII. No line breaks: see
// TestLineBreaksWithoutValidation.
func hostile(name string) string {
	return name + ` "dq" 'sq' $(pwned) ` + "`pwned` ${HOME} $HOME %{ if true }x%{ endif } ;pwned;|pwned&& \\ \\n \t <tag>&amp; ünï\u202e" +
		// user_data.tf writes the VM number over this placeholder in the
		// rendered script; inside a value it must stay as it is.
		" @LABLINK_VM_NUMBER@"
}

// stringVars are the string variables of the module.
func stringVars(t *testing.T) []string {
	t.Helper()
	vs, order := parseVariables(t, readModuleFile(t, "local", "variables.tf"), "variables.tf")
	var out []string
	for _, name := range order {
		if vs[name].Type == "string" {
			out = append(out, name)
		}
	}
	return out
}

// renderStripped renders the boot script of each case with the validation
// blocks removed (strippedModule): one apply, one module instance per
// case, one VM each.
func renderStripped(t *testing.T, cases map[string]vars) map[string]string {
	t.Helper()
	module := strippedModule(t)
	root := filepath.Join(t.TempDir(), "root")
	require.NoError(t, os.MkdirAll(root, 0o755))
	vs, order := parseVariables(t, readModuleFile(t, "local", "variables.tf"), "variables.tf")
	var attrs, args strings.Builder
	for _, name := range order {
		fmt.Fprintf(&attrs, "    %s = %s\n", name, vs[name].Type)
		fmt.Fprintf(&args, "  %s = each.value.%s\n", name, name)
	}
	main := "variable \"cases\" {\n  type = map(object({\n" + attrs.String() + "  }))\n}\n\n" +
		fmt.Sprintf("module \"vm\" {\n  source   = %q\n  for_each = var.cases\n", module) + args.String() + "}\n\n" +
		"output \"user_data\" {\n  value     = { for k, m in module.vm : k => m.user_data[0] }\n  sensitive = true\n}\n"
	require.NoError(t, os.WriteFile(filepath.Join(root, "main.tf"), []byte(main), 0o600))

	objs := map[string]cty.Value{}
	for name, v := range cases {
		objs[name] = cty.ObjectVal(v)
	}
	f := hclwrite.NewEmptyFile()
	f.Body().SetAttributeValue("cases", cty.ObjectVal(objs))
	varFile := filepath.Join(root, "cases.tfvars")
	require.NoError(t, os.WriteFile(varFile, f.Bytes(), 0o600))

	tf := tofutest.New(t, root)
	require.NoError(t, tf.Init(t.Context()), "init")
	require.NoError(t, tf.Apply(t.Context(), tfexec.VarFile(varFile)), "apply")
	out, err := tf.Output(t.Context())
	require.NoError(t, err)
	var scripts map[string]string
	require.NoError(t, json.Unmarshal(out["user_data"].Value, &scripts))
	require.Len(t, scripts, len(cases))
	return scripts
}

// TestHostileValuesWithoutValidation is the defense in depth of the boot
// script: with every validation block removed, a hostile value in every
// string variable at once still reaches the container byte for byte
// (image name, log group and custom startup script included), and no value
// runs anything.
func TestHostileValuesWithoutValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A file name that is itself hostile, line break included.
	scriptPath := filepath.Join(dir, hostile("custom_startup_script_path")+"\nsecond line.sh")
	require.NoError(t, os.WriteFile(scriptPath, startupScript, 0o644))

	v := fullVars(1).with("gpu_support", cty.True)
	for _, name := range stringVars(t) {
		v[name] = cty.StringVal(hostile(name))
	}
	// --privileged would be an option were the image not after "--".
	v["image_name"] = cty.StringVal("--privileged " + hostile("image_name"))
	v["custom_startup_script_path"] = cty.StringVal(scriptPath)
	// Values that may hold line breaks: they are never an env file line.
	// Its own launch, as each VM's inventory file is named after the
	// launch and index, and the module never overwrites one.
	v2 := v.with("image_name", cty.StringVal("image\nname\n")).
		with("cloud_init_output_log_group", cty.StringVal("log\ngroup\r\n")).
		with("launch_id", cty.StringVal(hostile("launch_id")+" 2"))

	scripts := renderStripped(t, map[string]vars{"hostile": v, "line breaks outside the env file": v2})

	answer := `{"client_secret": "` + testSecret + `", "note": "` + "$(pwned) `pwned` 'q' ${HOME}" + `"}`
	opts := bootsim.Options{InstanceID: testInstance, PrivateIP: testIP, RegisterAnswer: answer, NvidiaSMI: true}
	for name, vals := range map[string]vars{"hostile": v, "line breaks outside the env file": v2} {
		t.Run(name, func(t *testing.T) {
			boot, err := bootsim.Run(t.Context(), t.TempDir(), scripts[name], opts)
			require.NoError(t, err)
			s := func(name string) string { return vals[name].AsString() }
			env := map[string]string{
				"ALLOCATOR_HOST":             s("allocator_ip"),
				"ALLOCATOR_URL":              s("allocator_url"),
				"ALLOCATOR_PORT":             "8443",
				"TUTORIAL_REPO_TO_CLONE":     s("repository"),
				"VM_NAME":                    s("resource_prefix") + "-vm-1",
				"SUBJECT_SOFTWARE":           s("subject_software"),
				"STARTUP_ON_ERROR":           s("startup_on_error"),
				"STARTUP_MAX_ATTEMPTS":       "5",
				"STARTUP_BASE_DELAY_SECONDS": "7",
				"STARTUP_SUCCESS_CHECK_B64":  s("startup_success_check_b64"),
				"AGENT_TOKEN":                s("agent_token"),
				"CLIENT_SECRET":              testSecret,
				"REGISTER_RESPONSE":          answer,
			}
			want := bootsim.Want{LogGroup: true, AllocatorURL: s("allocator_url"), RegisterToken: s("register_token"),
				VMName: s("resource_prefix") + "-vm-1", GPU: true, Image: s("image_name")}
			checkBoot(t, bootCase{name: name, env: env, want: want, script: startupScript}, boot)

			data, err := os.ReadFile(boot.CloudWatchPath())
			require.NoError(t, err)
			var cw cloudWatchConfig
			require.NoError(t, json.Unmarshal(data, &cw), "CloudWatch config: %s", data)
			l := cw.Logs.LogsCollected.Files.CollectList
			require.Len(t, l, 1)
			assert.Equal(t, s("cloud_init_output_log_group"), l[0].LogGroupName)
			assert.Equal(t, "/var/log/cloud-init-output.log", l[0].FilePath)
		})
	}
}

// cloudWatchConfig is the part of the agent config the tests check.
type cloudWatchConfig struct {
	Logs struct {
		LogsCollected struct {
			Files struct {
				CollectList []struct {
					FilePath      string `json:"file_path"`
					LogGroupName  string `json:"log_group_name"`
					LogStreamName string `json:"log_stream_name"`
				} `json:"collect_list"`
			} `json:"files"`
		} `json:"logs_collected"`
	} `json:"logs"`
}

// TestLineBreaksWithoutValidation: an env file holds one variable per
// line and an HTTP header is one line, so a value bound for either must
// not hold CR or LF. Past the (removed) validation, the script refuses
// such a value before it runs any command, and names where it was.
func TestLineBreaksWithoutValidation(t *testing.T) {
	t.Parallel()
	where := map[string]string{
		"allocator_ip":              "ALLOCATOR_HOST",
		"allocator_url":             "ALLOCATOR_URL",
		"repository":                "TUTORIAL_REPO_TO_CLONE",
		"resource_prefix":           "VM_NAME",
		"subject_software":          "SUBJECT_SOFTWARE",
		"startup_on_error":          "STARTUP_ON_ERROR",
		"startup_success_check_b64": "STARTUP_SUCCESS_CHECK_B64",
		"agent_token":               "AGENT_TOKEN",
		"register_token":            "register_token",
	}
	cases := map[string]vars{}
	for name := range where {
		// Each case its own launch: a VM's inventory file is named after
		// the launch and index, and the module never overwrites one.
		cases[name+" LF"] = fullVars(1).with(name, cty.StringVal("before\nAFTER=injected")).with("launch_id", cty.StringVal(name+"-lf"))
		cases[name+" CR"] = fullVars(1).with(name, cty.StringVal("value\r")).with("launch_id", cty.StringVal(name+"-cr"))
	}
	scripts := renderStripped(t, cases)
	for name, script := range scripts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			boot, err := bootsim.Run(t.Context(), t.TempDir(), script, bootsim.Options{})
			require.Error(t, err, "%s: boot succeeded", name)
			key := where[strings.Fields(name)[0]]
			assert.Contains(t, string(boot.Output), "lablink: line breaks in "+key+":")
			assert.Empty(t, boot.Calls, "%s: commands ran", name)
			_, err = os.Stat(boot.EnvPath())
			assert.True(t, errors.Is(err, fs.ErrNotExist), "%s: env file written", name)
		})
	}
}
