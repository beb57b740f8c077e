package plancheck_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "regenerate testdata/plans with the OpenTofu named by $TOFU_PATH")

// The fixture module: a provider-free twin of the client module. Changing
// image replaces the VMs (as a new AMI does), user_data updates them in
// place (as user_data_base64 does on AWS), prefix changes only their tags.
const fixtureVars = `
variable "instance_count" {
  type    = number
  default = 2
}
variable "image" {
  type    = string
  default = "ami-1"
}
variable "user_data" {
  type    = string
  default = "boot-v1"
}
variable "prefix" {
  type    = string
  default = "lab"
}
`

func fixtureVM(lifecycle string) string {
	return `
resource "terraform_data" "lablink_vm" {
  count = var.instance_count
  input = {
    user_data = var.user_data
    tags      = { Name = "${var.prefix}-vm-${count.index + 1}" }
  }
  triggers_replace = var.image
  lifecycle {
` + lifecycle + `
  }
}
`
}

var (
	plainModule   = map[string]string{"main.tf": fixtureVars + fixtureVM("")}
	cbdModule     = map[string]string{"main.tf": fixtureVars + fixtureVM("    create_before_destroy = true")}
	keepModule    = map[string]string{"main.tf": fixtureVars + fixtureVM("    destroy = false")}
	keepCBDModule = map[string]string{"main.tf": fixtureVars + fixtureVM("    destroy = false\n    create_before_destroy = true")}
	// removedModule drops the resource and keeps its objects running.
	removedModule = map[string]string{"main.tf": fixtureVars + `
removed {
  from = terraform_data.lablink_vm
  lifecycle {
    destroy = false
  }
}
`}
	// readModule adds a data source that is read during apply because it
	// depends on pending changes: its action is "read".
	readModule = map[string]string{"main.tf": fixtureVars + fixtureVM("") + `
data "terraform_remote_state" "lablink_vm" {
  backend    = "local"
  config     = { path = "${path.module}/terraform.tfstate" }
  depends_on = [terraform_data.lablink_vm]
}
`}
	nestedModule = map[string]string{
		"main.tf": fixtureVars + `
module "clients" {
  source         = "./clients"
  instance_count = var.instance_count
  image          = var.image
  user_data      = var.user_data
  prefix         = var.prefix
}
`,
		"clients/main.tf": fixtureVars + fixtureVM(""),
	}
)

// fixtureCase is one plan fixture: the module is applied with the base
// variables, then the plan module is planned with vars.
type fixtureCase struct {
	name     string
	base     map[string]string
	baseVars []string
	plan     map[string]string
	vars     []string
}

var fixtureCases = []fixtureCase{
	{name: "create", base: plainModule, plan: plainModule, vars: []string{"instance_count=3"}},
	{name: "noop", base: plainModule, plan: plainModule},
	{name: "update", base: plainModule, plan: plainModule, vars: []string{"user_data=boot-v2"}},
	{name: "update-tags", base: plainModule, plan: plainModule, vars: []string{"prefix=lab2"}},
	{name: "replace", base: plainModule, plan: plainModule, vars: []string{"image=ami-2"}},
	{name: "replace-cbd", base: cbdModule, plan: cbdModule, vars: []string{"image=ami-2"}},
	{name: "delete", base: plainModule, plan: plainModule, vars: []string{"instance_count=1"}},
	{name: "forget", base: plainModule, plan: removedModule},
	{name: "forget-count", base: keepModule, plan: keepModule, vars: []string{"instance_count=1"}},
	{name: "forget-create", base: keepModule, plan: keepModule, vars: []string{"image=ami-2"}},
	{name: "forget-create-cbd", base: keepCBDModule, plan: keepCBDModule, vars: []string{"image=ami-2"}},
	{name: "read", base: plainModule, plan: readModule, vars: []string{"instance_count=3"}},
	{name: "module-delete", base: nestedModule, plan: nestedModule, vars: []string{"instance_count=1"}},
}

// TestGenerateFixtures rebuilds testdata/plans with a real OpenTofu:
//
//	TOFU_PATH=$HOME/.cache/lablink/tofu-v1.12.6 go test ./plancheck -run TestGenerateFixtures -update
//
// Without -update it does nothing, so the other tests need no OpenTofu.
func TestGenerateFixtures(t *testing.T) {
	generate(t, "plans", fixtureCases, "-no-color", func(t *testing.T, fc fixtureCase, _, show []byte) {
		require.NoError(t, os.WriteFile(fixturePath(fc.name), show, 0o644))
	})
}

// generate runs each case with the OpenTofu at TOFU_PATH when -update is
// set, and skips t otherwise: it applies the case's base module and
// variables, plans its plan module and variables to plan.bin with the
// extra plan argument planArg, and hands write the plan's stdout and its
// `show -json`, indented. Neither may name the temporary directory. testdata/dir is made first.
func generate(t *testing.T, dir string, cases []fixtureCase, planArg string, write func(t *testing.T, fc fixtureCase, planOut, show []byte)) {
	if !*update {
		t.Skip("run with -update to regenerate testdata/" + dir)
	}
	tofu := os.Getenv("TOFU_PATH")
	require.NotEmpty(t, tofu, "set TOFU_PATH to the pinned OpenTofu")
	require.NoError(t, os.MkdirAll(filepath.Join("testdata", dir), 0o755))
	for _, fc := range cases {
		t.Run(fc.name, func(t *testing.T) {
			tmp := t.TempDir()
			run := tofuIn(t, tofu, tmp, fc.name)
			writeModule(t, tmp, fc.base)
			run("init", "-input=false", "-no-color")
			run(append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, varArgs(fc.baseVars)...)...)
			writeModule(t, tmp, fc.plan)
			run("init", "-input=false", "-no-color")
			out := run(append([]string{"plan", planArg, "-out=plan.bin", "-input=false"}, varArgs(fc.vars)...)...)
			raw := run("show", "-json", "plan.bin")
			for _, b := range [][]byte{out, raw} {
				require.NotContains(t, string(b), tmp, "%s: the plan names the temporary directory", fc.name)
			}
			var pretty bytes.Buffer
			require.NoError(t, json.Indent(&pretty, raw, "", "  "), fc.name)
			pretty.WriteByte('\n')
			write(t, fc, out, pretty.Bytes())
		})
	}
}

// writeModule replaces the module in dir by files.
func writeModule(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for _, old := range []string{"main.tf", filepath.Join("clients", "main.tf")} {
		require.NoError(t, os.RemoveAll(filepath.Join(dir, old)))
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
}

func fixturePath(name string) string {
	return filepath.Join("testdata", "plans", fmt.Sprintf("%s.json", name))
}

// tofuIn returns a function that runs the OpenTofu at tofu in dir, with an
// empty CLI configuration, and returns its stdout; a failure fails t,
// naming the case.
func tofuIn(t *testing.T, tofu, dir, name string) func(args ...string) []byte {
	rc := filepath.Join(dir, "tofurc")
	require.NoError(t, os.WriteFile(rc, nil, 0o600))
	return func(args ...string) []byte {
		cmd := exec.CommandContext(t.Context(), tofu, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "%s: tofu %s: %s%s", name, strings.Join(args, " "), out, stderr.Bytes())
		return out
	}
}

// varArgs turns NAME=VALUE pairs into -var arguments.
func varArgs(vars []string) []string {
	a := make([]string, 0, len(vars))
	for _, v := range vars {
		a = append(a, "-var="+v)
	}
	return a
}
