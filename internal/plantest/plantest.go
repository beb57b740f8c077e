// Package plantest holds what the tests of plancheck and internal/planread
// share: the provider-free module their plan fixtures are made from, the
// cases, the generator that makes them with a real OpenTofu, and small
// helpers over a decoded plan. plancheck keeps the saved plans
// (testdata/plans), planread the event streams beside them
// (testdata/events); one generator makes both, so that they stay plans of
// the same module.
package plantest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/plancheck"
)

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

// Module is the files of a fixture module, by path.
type Module map[string]string

var (
	plainModule   = Module{"main.tf": fixtureVars + fixtureVM("")}
	cbdModule     = Module{"main.tf": fixtureVars + fixtureVM("    create_before_destroy = true")}
	keepModule    = Module{"main.tf": fixtureVars + fixtureVM("    destroy = false")}
	keepCBDModule = Module{"main.tf": fixtureVars + fixtureVM("    destroy = false\n    create_before_destroy = true")}
	// removedModule drops the resource and keeps its objects running.
	removedModule = Module{"main.tf": fixtureVars + `
removed {
  from = terraform_data.lablink_vm
  lifecycle {
    destroy = false
  }
}
`}
	// readModule adds a data source that is read during apply because it
	// depends on pending changes: its action is "read".
	readModule = Module{"main.tf": fixtureVars + fixtureVM("") + `
data "terraform_remote_state" "lablink_vm" {
  backend    = "local"
  config     = { path = "${path.module}/terraform.tfstate" }
  depends_on = [terraform_data.lablink_vm]
}
`}
	nestedModule = Module{
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
	movedBase   = Module{"main.tf": fixtureVars + strings.Replace(fixtureVM(""), `"lablink_vm"`, `"old"`, 1)}
	movedModule = Module{"main.tf": fixtureVars + fixtureVM("") + `
moved {
  from = terraform_data.old
  to   = terraform_data.lablink_vm
}
`}
)

// Case is one plan fixture: the Base module is applied with BaseVars,
// then the Plan module is planned with Vars (NAME=VALUE pairs).
type Case struct {
	Name           string
	Base, Plan     Module
	BaseVars, Vars []string
}

// PlanCases returns the cases of plancheck's testdata/plans, one for each
// set of actions OpenTofu 1.12 plans for a client VM. Each call returns
// a new slice.
func PlanCases() []Case {
	return []Case{
		{Name: "create", Base: plainModule, Plan: plainModule, Vars: []string{"instance_count=3"}},
		{Name: "noop", Base: plainModule, Plan: plainModule},
		{Name: "update", Base: plainModule, Plan: plainModule, Vars: []string{"user_data=boot-v2"}},
		{Name: "update-tags", Base: plainModule, Plan: plainModule, Vars: []string{"prefix=lab2"}},
		{Name: "replace", Base: plainModule, Plan: plainModule, Vars: []string{"image=ami-2"}},
		{Name: "replace-cbd", Base: cbdModule, Plan: cbdModule, Vars: []string{"image=ami-2"}},
		{Name: "delete", Base: plainModule, Plan: plainModule, Vars: []string{"instance_count=1"}},
		{Name: "forget", Base: plainModule, Plan: removedModule},
		{Name: "forget-count", Base: keepModule, Plan: keepModule, Vars: []string{"instance_count=1"}},
		{Name: "forget-create", Base: keepModule, Plan: keepModule, Vars: []string{"image=ami-2"}},
		{Name: "forget-create-cbd", Base: keepCBDModule, Plan: keepCBDModule, Vars: []string{"image=ami-2"}},
		{Name: "read", Base: plainModule, Plan: readModule, Vars: []string{"instance_count=3"}},
		{Name: "module-delete", Base: nestedModule, Plan: nestedModule, Vars: []string{"instance_count=1"}},
	}
}

// EventCases returns the cases of planread's testdata/events: every
// PlanCases case, and plans that only the event stream tells apart. Each
// call returns a new slice.
func EventCases() []Case {
	return append(PlanCases(),
		Case{Name: "create-from-empty", Base: plainModule, BaseVars: []string{"instance_count=0"}, Plan: plainModule, Vars: []string{"instance_count=3"}},
		Case{Name: "create-in-module", Base: nestedModule, Plan: nestedModule, Vars: []string{"instance_count=3"}},
		Case{Name: "moved", Base: movedBase, Plan: movedModule},
		Case{Name: "moved-create", Base: movedBase, Plan: movedModule, Vars: []string{"instance_count=3"}},
	)
}

// Generate runs each case with the OpenTofu at $TOFU_PATH when update is
// set, and skips t otherwise: it applies the case's base module and
// variables, plans its plan module and variables to plan.bin with the
// extra plan argument planArg, and hands write the plan's stdout and its
// `show -json`, indented. Neither may name the temporary directory. The
// directory dir is made first.
func Generate(t *testing.T, update bool, dir string, cases []Case, planArg string, write func(t *testing.T, c Case, planOut, show []byte)) {
	if !update {
		t.Skip("run with -update to regenerate " + dir)
	}
	tofu := os.Getenv("TOFU_PATH")
	require.NotEmpty(t, tofu, "set TOFU_PATH to the pinned OpenTofu")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			tmp := t.TempDir()
			run := tofuIn(t, tofu, tmp, c.Name)
			writeModule(t, tmp, c.Base)
			run("init", "-input=false", "-no-color")
			run(append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, varArgs(c.BaseVars)...)...)
			writeModule(t, tmp, c.Plan)
			run("init", "-input=false", "-no-color")
			out := run(append([]string{"plan", planArg, "-out=plan.bin", "-input=false"}, varArgs(c.Vars)...)...)
			raw := run("show", "-json", "plan.bin")
			for _, b := range [][]byte{out, raw} {
				require.NotContains(t, string(b), tmp, "%s: the plan names the temporary directory", c.Name)
			}
			var pretty bytes.Buffer
			require.NoError(t, json.Indent(&pretty, raw, "", "  "), c.Name)
			pretty.WriteByte('\n')
			write(t, c, out, pretty.Bytes())
		})
	}
}

// writeModule replaces the module in dir by files.
func writeModule(t *testing.T, dir string, files Module) {
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

// LoadPlan reads a plan fixture the way the launcher would get it from
// tfexec's ShowPlanFile.
func LoadPlan(t testing.TB, path string) *tfjson.Plan {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	require.NoError(t, err)
	var p tfjson.Plan
	require.NoError(t, json.Unmarshal(b, &p), path)
	return &p
}

// Reasons returns the violations of a *plancheck.RefusedError in err as
// strings, nil for any other error or none.
func Reasons(err error) []string {
	var re *plancheck.RefusedError
	if !errors.As(err, &re) {
		return nil
	}
	out := make([]string, len(re.Violations))
	for i, v := range re.Violations {
		out[i] = v.String()
	}
	return out
}
