package terraform

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink/internal/bootsim"
	"github.com/lablink-go/lablink/internal/tofutest"
)

func TestSharedFilesIdentical(t *testing.T) {
	for _, name := range []string{"variables.tf", "user_data.sh.tftpl"} {
		var got [][]byte
		for _, mod := range Names {
			fsys, err := FS(mod)
			if err != nil {
				t.Fatal(err)
			}
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, data)
		}
		if !bytes.Equal(got[0], got[1]) {
			t.Errorf("%s differs between %s and %s:\n%s", name, Names[0], Names[1], cmp.Diff(string(got[0]), string(got[1])))
		}
	}
}

func TestModulesParse(t *testing.T) {
	for _, mod := range Names {
		fsys, err := FS(mod)
		if err != nil {
			t.Fatal(err)
		}
		files, err := fs.Glob(fsys, "*.tf")
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("%s: no .tf files", mod)
		}
		p := hclparse.NewParser()
		for _, f := range files {
			src, err := fs.ReadFile(fsys, f)
			if err != nil {
				t.Fatal(err)
			}
			if _, diags := p.ParseHCL(src, mod+"/"+f); diags.HasErrors() {
				t.Errorf("%s/%s: %v", mod, f, diags)
			}
		}
		src, err := fs.ReadFile(fsys, "user_data.sh.tftpl")
		if err != nil {
			t.Fatal(err)
		}
		if _, diags := hclsyntax.ParseTemplate(src, mod+"/user_data.sh.tftpl", hcl.InitialPos); diags.HasErrors() {
			t.Errorf("%s/user_data.sh.tftpl: %v", mod, diags)
		}
	}
}

// variable is what TestVariables reads back from variables.tf.
type variable struct {
	Type        string
	Default     cty.Value // cty.NilVal when the variable is required
	Sensitive   bool
	Nullable    bool
	Description bool // whether it has a non-empty description
	Validations int
}

// TestVariables pins the module's interface: the Go side renders tfvars for
// exactly these variables, and the defaults must agree with the allocator
// config defaults (SPEC.md §1 and §4).
func TestVariables(t *testing.T) {
	str := cty.StringVal
	num := cty.NumberIntVal
	want := map[string]variable{
		"allocator_ip":                {Type: "string", Sensitive: true, Validations: 1},
		"allocator_url":               {Type: "string", Sensitive: true, Validations: 2},
		"allocator_port":              {Type: "number", Default: num(443), Validations: 1},
		"machine_type":                {Type: "string", Default: str("g4dn.xlarge"), Validations: 1},
		"image_name":                  {Type: "string", Default: str("ghcr.io/talmolab/lablink-client-base-image:latest"), Validations: 1},
		"repository":                  {Type: "string", Default: str(""), Validations: 1},
		"client_ami_id":               {Type: "string", Default: str("ami-00c257e12d6828491"), Validations: 1},
		"subject_software":            {Type: "string", Default: str("sleap"), Validations: 1},
		"resource_suffix":             {Type: "string", Default: str("prod"), Validations: 1},
		"gpu_support":                 {Type: "bool"},
		"cloud_init_output_log_group": {Type: "string", Default: str(""), Validations: 1},
		"region":                      {Type: "string", Default: str("us-west-2"), Validations: 1},
		"startup_on_error":            {Type: "string", Default: str("continue"), Validations: 1},
		"startup_max_attempts":        {Type: "number", Default: num(3), Validations: 1},
		"startup_base_delay_seconds":  {Type: "number", Default: num(30), Validations: 1},
		"startup_success_check_b64":   {Type: "string", Default: str(""), Validations: 1},
		"instance_count":              {Type: "number", Validations: 1},
	}
	for name, v := range want {
		v.Nullable = false
		v.Description = true
		want[name] = v
	}

	fsys, err := FS("local")
	if err != nil {
		t.Fatal(err)
	}
	src, err := fs.ReadFile(fsys, "variables.tf")
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, "variables.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := make(map[string]variable)
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "variable" || len(b.Labels) != 1 {
			t.Errorf("unexpected block %s %q", b.Type, b.Labels)
			continue
		}
		name := b.Labels[0]
		v := variable{Nullable: true}
		for _, vb := range b.Body.Blocks {
			if vb.Type == "validation" {
				v.Validations++
			}
		}
		for key, attr := range b.Body.Attributes {
			switch key {
			case "type":
				v.Type = hcl.ExprAsKeyword(attr.Expr)
			case "description", "default", "sensitive", "nullable":
				val, diags := attr.Expr.Value(nil)
				if diags.HasErrors() {
					t.Errorf("%s.%s: %v", name, key, diags)
					continue
				}
				switch key {
				case "description":
					v.Description = val.AsString() != ""
				case "default":
					v.Default = val
				case "sensitive":
					v.Sensitive = val.True()
				case "nullable":
					v.Nullable = val.True()
				}
			default:
				t.Errorf("%s: unexpected attribute %s", name, key)
			}
		}
		if _, dup := got[name]; dup {
			t.Errorf("variable %s declared twice", name)
		}
		got[name] = v
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b cty.Value) bool {
		if a == cty.NilVal || b == cty.NilVal {
			return a == b
		}
		return a.RawEquals(b)
	})); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
}

// vars are tfvars for the local module, keyed by variable name.
type vars map[string]cty.Value

// fullVars sets every variable, none to its default. The strings carry
// characters the shell would interpret in any other quoting but that the
// validation rules allow: they must reach the VM unchanged.
func fullVars(count int) vars {
	return vars{
		"allocator_ip":                cty.StringVal("203.0.113.7"),
		"allocator_url":               cty.StringVal("https://lablink.example.org:8443/?a=1&b=2;c=3|4"),
		"allocator_port":              cty.NumberIntVal(8443),
		"machine_type":                cty.StringVal("g5.2xlarge"),
		"image_name":                  cty.StringVal("ghcr.io/example/client@sha256:0123456789abcdef"),
		"repository":                  cty.StringVal("https://github.com/example/repo.git#%{x}{{.}}*?[a]~!(){}<>&;|"),
		"client_ami_id":               cty.StringVal("ami-0123456789abcdef0"),
		"subject_software":            cty.StringVal("sleap-ünï"),
		"resource_suffix":             cty.StringVal("test-42"),
		"gpu_support":                 cty.False,
		"cloud_init_output_log_group": cty.StringVal("/lablink/cloud-init/test-42"),
		"region":                      cty.StringVal("eu-central-1"),
		"startup_on_error":            cty.StringVal("fail"),
		"startup_max_attempts":        cty.NumberIntVal(5),
		"startup_base_delay_seconds":  cty.NumberIntVal(7),
		"startup_success_check_b64":   cty.StringVal(base64.StdEncoding.EncodeToString([]byte("test -f /tmp/ok && echo '$HOME'"))),
		"instance_count":              cty.NumberIntVal(int64(count)),
	}
}

func (v vars) with(name string, val cty.Value) vars {
	out := maps.Clone(v)
	out[name] = val
	return out
}

func (v vars) without(name string) vars {
	out := maps.Clone(v)
	delete(out, name)
	return out
}

func (v vars) str(name string) string { return bootsim.TemplateString(v[name]) }

// writeVars writes v as a tfvars file in a new temporary directory.
func writeVars(t *testing.T, v vars) string {
	t.Helper()
	f := hclwrite.NewEmptyFile()
	for _, k := range slices.Sorted(maps.Keys(v)) {
		f.Body().SetAttributeValue(k, v[k])
	}
	p := filepath.Join(t.TempDir(), "test.tfvars")
	if err := os.WriteFile(p, f.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newLocal materializes the local module into a fresh directory and runs
// init there; the module has no providers, so init works offline.
func newLocal(t *testing.T) *tfexec.Terraform {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "module")
	if err := Materialize("local", dir); err != nil {
		t.Fatal(err)
	}
	tf := tofutest.New(t, dir)
	if err := tf.Init(t.Context()); err != nil {
		t.Fatalf("init: %v", err)
	}
	return tf
}

func apply(t *testing.T, tf *tfexec.Terraform, v vars) error {
	t.Helper()
	return tf.Apply(t.Context(), tfexec.VarFile(writeVars(t, v)))
}

// userData returns the rendered boot scripts from the user_data output.
func userData(t *testing.T, tf *tfexec.Terraform) []string {
	t.Helper()
	out, err := tf.Output(t.Context())
	if err != nil {
		t.Fatalf("output: %v", err)
	}
	if !out["user_data"].Sensitive {
		t.Error("output user_data is not sensitive")
	}
	var scripts []string
	if err := json.Unmarshal(out["user_data"].Value, &scripts); err != nil {
		t.Fatalf("output user_data: %v", err)
	}
	var n int
	if err := json.Unmarshal(out["vm_count"].Value, &n); err != nil {
		t.Fatalf("output vm_count: %v", err)
	}
	if n != len(scripts) {
		t.Errorf("vm_count = %d, but %d user_data entries", n, len(scripts))
	}
	return scripts
}

// wantEnvFile is the exact client.env the VM must get for v.
func wantEnvFile(v vars) string { return bootsim.WantEnvFile(v.str) }

// cloudWatchConfig is the part of the agent config the test checks.
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

var b64Literal = regexp.MustCompile(`'([A-Za-z0-9+/]+=*)'`)

// decodeLiterals returns the decoded base64 literals of a rendered script.
func decodeLiterals(t *testing.T, script string) []string {
	t.Helper()
	var out []string
	for _, m := range b64Literal.FindAllStringSubmatch(script, -1) {
		b, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatalf("literal %q: %v", m[1], err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestApplyLocal(t *testing.T) {
	t.Parallel()
	tf := newLocal(t)
	v := fullVars(2)
	if err := apply(t, tf, v); err != nil {
		t.Fatalf("apply: %v", err)
	}
	scripts := userData(t, tf)
	if len(scripts) != 2 {
		t.Fatalf("got %d user_data entries, want 2", len(scripts))
	}
	for i, s := range scripts {
		lits := decodeLiterals(t, s)
		if len(lits) != 3 {
			t.Fatalf("user_data[%d]: %d base64 literals, want 3 (env file, CloudWatch config, image)", i, len(lits))
		}
		if diff := cmp.Diff(wantEnvFile(v), lits[0]); diff != "" {
			t.Errorf("user_data[%d] env file (-want +got):\n%s", i, diff)
		}
		var cw cloudWatchConfig
		if err := json.Unmarshal([]byte(lits[1]), &cw); err != nil {
			t.Fatalf("user_data[%d] CloudWatch config: %v", i, err)
		}
		if l := cw.Logs.LogsCollected.Files.CollectList; len(l) != 1 || l[0].LogGroupName != v.str("cloud_init_output_log_group") || l[0].FilePath != "/var/log/cloud-init-output.log" {
			t.Errorf("user_data[%d] CloudWatch config = %s", i, lits[1])
		}
		if lits[2] != v.str("image_name") {
			t.Errorf("user_data[%d] image = %q, want %q", i, lits[2], v.str("image_name"))
		}
		// Nothing reaches the script in plain text.
		for _, name := range []string{"allocator_url", "repository", "allocator_ip", "image_name"} {
			if strings.Contains(s, v.str(name)) {
				t.Errorf("user_data[%d] contains %s in plain text", i, name)
			}
		}
	}

	if err := apply(t, tf, v.with("instance_count", cty.NumberIntVal(3))); err != nil {
		t.Fatalf("apply with 3: %v", err)
	}
	if got := len(userData(t, tf)); got != 3 {
		t.Errorf("after instance_count = 3: %d user_data entries", got)
	}
}

func TestRequiredVariables(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"gpu_support", "instance_count", "allocator_ip", "allocator_url"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tf := newLocal(t)
			err := apply(t, tf, fullVars(1).without(name))
			if err == nil {
				t.Fatalf("apply without %s succeeded", name)
			}
			if !strings.Contains(err.Error(), `"`+name+`"`) {
				t.Errorf("error does not name %s:\n%v", name, err)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	str := cty.StringVal
	tests := []struct {
		name  string
		value cty.Value
	}{
		{"repository", str(`https://x/"y`)},
		{"repository", str("https://x/$(id)")},
		{"repository", str("https://x/`id`")},
		{"repository", str(`a\b`)},
		{"repository", str("a'b")},
		{"repository", str("a b")},
		{"repository", str("a\nb")},
		{"repository", str("a\u00a0b")},
		{"repository", str("a\u202eb")},
		{"allocator_ip", str("")},
		{"allocator_url", str("ftp://x")},
		{"allocator_url", str("https://x/${id}")},
		{"image_name", str("--privileged")},
		{"image_name", str("Image")},
		{"machine_type", str("")},
		{"client_ami_id", str("ami-xyz")},
		{"region", str("us west 2")},
		{"subject_software", str("sleap\t")},
		{"resource_suffix", str("$HOME")},
		{"cloud_init_output_log_group", str("a\x00b")},
		{"startup_on_error", str("ignore")},
		{"startup_success_check_b64", str("abc")},
		{"startup_success_check_b64", str("ab c")},
		{"startup_max_attempts", cty.NumberIntVal(0)},
		{"startup_base_delay_seconds", cty.NumberFloatVal(1.5)},
		{"allocator_port", cty.NumberIntVal(0)},
		{"allocator_port", cty.NumberIntVal(65536)},
		{"instance_count", cty.NumberIntVal(-1)},
		{"instance_count", cty.NumberFloatVal(1.5)},
	}
	t.Parallel()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tf := newLocal(t)
			err := apply(t, tf, fullVars(0).with(tc.name, tc.value))
			if err == nil {
				t.Fatalf("%s = %#v: apply succeeded, want a validation error", tc.name, tc.value)
			}
			// Terraform says "var.NAME"; OpenTofu points at the block,
			// `variable "NAME"`.
			if msg := err.Error(); !strings.Contains(msg, "var."+tc.name) && !strings.Contains(msg, `variable "`+tc.name+`"`) {
				t.Errorf("%s = %#v: error does not name the variable:\n%v", tc.name, tc.value, err)
			}
		})
	}
}

// planActions plans v and returns the actions per resource address.
func planActions(t *testing.T, tf *tfexec.Terraform, v vars) map[string]tfjson.Actions {
	t.Helper()
	planPath := filepath.Join(t.TempDir(), "plan.out")
	if _, err := tf.Plan(t.Context(), tfexec.VarFile(writeVars(t, v)), tfexec.Out(planPath)); err != nil {
		t.Fatalf("plan: %v", err)
	}
	plan, err := tf.ShowPlanFile(t.Context(), planPath)
	if err != nil {
		t.Fatalf("show plan: %v", err)
	}
	got := make(map[string]tfjson.Actions)
	for _, rc := range plan.ResourceChanges {
		got[rc.Address] = rc.Change.Actions
	}
	return got
}

func TestPlanReplaceAndNoop(t *testing.T) {
	t.Parallel()
	tf := newLocal(t)
	v := fullVars(2)
	if err := apply(t, tf, v); err != nil {
		t.Fatalf("apply: %v", err)
	}
	vms := []string{"terraform_data.lablink_vm[0]", "terraform_data.lablink_vm[1]"}

	got := planActions(t, tf, v.with("client_ami_id", cty.StringVal("ami-0fedcba9876543210")))
	for _, addr := range vms {
		if !got[addr].Replace() {
			t.Errorf("new AMI: %s actions %v, want a replace", addr, got[addr])
		}
	}

	// A changed config only affects VMs created from now on, as on AWS
	// where user_data runs once at first boot.
	got = planActions(t, tf, v.with("repository", cty.StringVal("https://example.com/other")).with("instance_count", cty.NumberIntVal(3)))
	want := map[string]tfjson.Actions{
		vms[0]:                         {tfjson.ActionNoop},
		vms[1]:                         {tfjson.ActionNoop},
		"terraform_data.lablink_vm[2]": {tfjson.ActionCreate},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("new repository and one more VM (-want +got):\n%s", diff)
	}
}

func TestUserDataRuns(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed to run the boot script")
	}
	tests := []struct {
		name string
		vars vars
	}{
		{"cpu with log group", fullVars(1)},
		{"gpu without log group", fullVars(1).with("gpu_support", cty.True).with("cloud_init_output_log_group", cty.StringVal(""))},
		{"defaults", vars{
			"allocator_ip":   cty.StringVal("192.0.2.1"),
			"allocator_url":  cty.StringVal("http://192.0.2.1"),
			"gpu_support":    cty.True,
			"instance_count": cty.NumberIntVal(1),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tf := newLocal(t)
			if err := apply(t, tf, tc.vars); err != nil {
				t.Fatalf("apply: %v", err)
			}
			scripts := userData(t, tf)
			if len(scripts) != 1 {
				t.Fatalf("%d user_data entries, want 1", len(scripts))
			}
			// The defaults the script must see when tfvars leave them out.
			v := vars{
				"allocator_port":              cty.NumberIntVal(443),
				"machine_type":                cty.StringVal("g4dn.xlarge"),
				"image_name":                  cty.StringVal("ghcr.io/talmolab/lablink-client-base-image:latest"),
				"repository":                  cty.StringVal(""),
				"client_ami_id":               cty.StringVal("ami-00c257e12d6828491"),
				"subject_software":            cty.StringVal("sleap"),
				"resource_suffix":             cty.StringVal("prod"),
				"cloud_init_output_log_group": cty.StringVal(""),
				"region":                      cty.StringVal("us-west-2"),
				"startup_on_error":            cty.StringVal("continue"),
				"startup_max_attempts":        cty.NumberIntVal(3),
				"startup_base_delay_seconds":  cty.NumberIntVal(30),
				"startup_success_check_b64":   cty.StringVal(""),
			}
			maps.Copy(v, tc.vars)

			boot, err := bootsim.Run(t.Context(), t.TempDir(), scripts[0])
			if err != nil {
				t.Fatal(err)
			}
			envPath := boot.EnvPath()
			logGroup := v.str("cloud_init_output_log_group")
			want := boot.WantCalls(v.str("image_name"), v["gpu_support"].True(), logGroup)
			if diff := cmp.Diff(want, boot.Calls); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}

			env, err := os.ReadFile(envPath)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantEnvFile(v), string(env)); diff != "" {
				t.Errorf("client.env (-want +got):\n%s", diff)
			}
			for _, p := range []string{envPath, filepath.Dir(envPath)} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s has mode %v, want no group or other access", p, fi.Mode())
				}
			}

			data, err := os.ReadFile(boot.CloudWatchPath())
			if logGroup == "" {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("CloudWatch config written without a log group: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var cw cloudWatchConfig
			if err := json.Unmarshal(data, &cw); err != nil {
				t.Fatalf("CloudWatch config: %v\n%s", err, data)
			}
			if l := cw.Logs.LogsCollected.Files.CollectList; len(l) != 1 || l[0].LogGroupName != logGroup {
				t.Errorf("CloudWatch config = %s, want log group %q", data, logGroup)
			}
		})
	}
}
