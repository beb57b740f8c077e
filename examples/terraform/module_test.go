package terraform

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"

	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/inventory"
)

// sharedFiles are byte-identical in every module.
var sharedFiles = []string{"variables.tf", "user_data.tf", "user_data.sh.tftpl"}

func TestSharedFilesIdentical(t *testing.T) {
	for _, name := range sharedFiles {
		var got [][]byte
		for _, mod := range Names() {
			got = append(got, readModuleFile(t, mod, name))
		}
		assert.True(t, bytes.Equal(got[0], got[1]), "%s differs between %s and %s:\n%s",
			name, Names()[0], Names()[1], cmp.Diff(string(got[0]), string(got[1])))
	}
}

func readModuleFile(t *testing.T, mod, name string) []byte {
	t.Helper()
	fsys, err := FS(mod)
	require.NoError(t, err)
	data, err := fs.ReadFile(fsys, name)
	require.NoError(t, err, "%s/%s", mod, name)
	return data
}

func TestModulesParse(t *testing.T) {
	for _, mod := range Names() {
		fsys, err := FS(mod)
		require.NoError(t, err)
		files, err := fs.Glob(fsys, "*.tf")
		require.NoError(t, err)
		require.NotEmpty(t, files, "%s: no .tf files", mod)
		p := hclparse.NewParser()
		for _, f := range files {
			_, diags := p.ParseHCL(readModuleFile(t, mod, f), mod+"/"+f)
			assert.False(t, diags.HasErrors(), "%s/%s: %v", mod, f, diags)
		}
		_, diags := hclsyntax.ParseTemplate(readModuleFile(t, mod, "user_data.sh.tftpl"), mod+"/user_data.sh.tftpl", hcl.InitialPos)
		assert.False(t, diags.HasErrors(), "%s/user_data.sh.tftpl: %v", mod, diags)
	}
}

// variable is what parseVariables reads back from a variables.tf.
type variable struct {
	Type        string
	Default     cty.Value // cty.NilVal when the variable is required
	Sensitive   bool
	Nullable    bool
	Description bool // whether it has a non-empty description
	Validations int
}

// parseVariables reads the variable blocks of src, and their order.
func parseVariables(t *testing.T, src []byte, filename string) (map[string]variable, []string) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	require.False(t, diags.HasErrors(), "%s: %v", filename, diags)
	got := make(map[string]variable)
	var order []string
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if !assert.True(t, b.Type == "variable" && len(b.Labels) == 1, "%s: unexpected block %s %q", filename, b.Type, b.Labels) {
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
			if key == "type" {
				v.Type = hcl.ExprAsKeyword(attr.Expr)
				continue
			}
			val, diags := attr.Expr.Value(nil)
			if !assert.False(t, diags.HasErrors(), "%s: %s.%s: %v", filename, name, key, diags) {
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
			default:
				t.Errorf("%s: %s: unexpected attribute %s", filename, name, key)
			}
		}
		_, dup := got[name]
		assert.False(t, dup, "%s: variable %s declared twice", filename, name)
		got[name] = v
		order = append(order, name)
	}
	return got, order
}

var ctyComparer = cmp.Comparer(func(a, b cty.Value) bool {
	if a == cty.NilVal || b == cty.NilVal {
		return a == b
	}
	return a.RawEquals(b)
})

// TestVariables pins the module's interface: the Go side renders tfvars for
// exactly these variables, and the defaults must agree with the allocator
// config defaults (SPEC.md §1 and §4).
func TestVariables(t *testing.T) {
	str := cty.StringVal
	num := cty.NumberIntVal
	want := map[string]variable{
		"instance_count":              {Type: "number", Validations: 1},
		"allocator_ip":                {Type: "string", Sensitive: true, Validations: 1},
		"allocator_url":               {Type: "string", Sensitive: true, Validations: 2},
		"allocator_port":              {Type: "number", Default: num(443), Validations: 1},
		"machine_type":                {Type: "string", Default: str("g4dn.xlarge"), Validations: 1},
		"image_name":                  {Type: "string", Default: str("ghcr.io/talmolab/lablink-client-base-image:latest"), Validations: 1},
		"repository":                  {Type: "string", Default: str(""), Validations: 1},
		"client_ami_id":               {Type: "string", Default: str("ami-00c257e12d6828491"), Validations: 1},
		"resource_prefix":             {Type: "string", Default: str("sleap-lablink-client-prod"), Validations: 1},
		"subject_software":            {Type: "string", Default: str("sleap"), Validations: 1},
		"gpu_support":                 {Type: "bool"},
		"cloud_init_output_log_group": {Type: "string", Default: str(""), Validations: 1},
		"region":                      {Type: "string", Default: str("us-west-2"), Validations: 1},
		"ssh_user":                    {Type: "string", Default: str("ubuntu"), Validations: 1},
		"retry_number":                {Type: "number", Default: num(5), Validations: 1},
		"startup_on_error":            {Type: "string", Default: str("continue"), Validations: 1},
		"startup_max_attempts":        {Type: "number", Default: num(3), Validations: 1},
		"startup_base_delay_seconds":  {Type: "number", Default: num(30), Validations: 1},
		"startup_success_check_b64":   {Type: "string", Default: str(""), Validations: 1},
		"custom_startup_script_path":  {Type: "string", Default: str(""), Validations: 1},
		"agent_token":                 {Type: "string", Sensitive: true, Validations: 1},
		"register_token":              {Type: "string", Sensitive: true, Validations: 1},
		"allocator_sg_id":             {Type: "string", Validations: 1},
		"launch_id":                   {Type: "string", Default: str(""), Validations: 1},
		"inventory_dir":               {Type: "string", Default: str(""), Validations: 1},
	}
	for name, v := range want {
		v.Nullable = false
		v.Description = true
		want[name] = v
	}
	got, _ := parseVariables(t, readModuleFile(t, "local", "variables.tf"), "variables.tf")
	if diff := cmp.Diff(want, got, ctyComparer); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
}

// TestUpstreamContract compares our variables with the shape of upstream's
// (testdata/upstream-variables.tf): the same names in the same order, the
// same types and sensitive flags, and the same defaults except where a
// difference is deliberate. Each difference is listed with its reason, so
// a change on either side fails here until it is looked at.
func TestUpstreamContract(t *testing.T) {
	str := cty.StringVal
	required := cty.NilVal
	type diff struct {
		upstream, ours cty.Value
		why            string
	}
	deliberate := map[string]diff{
		"instance_count": {cty.NumberIntVal(1), required,
			"always passed explicitly, and written into the audited tfvars (SPEC §4)"},
		"machine_type": {str("t2.medium"), str("g4dn.xlarge"),
			"defaults agree with the config defaults (SPEC §4: upstream's said t2.medium, its config g4dn.xlarge)"},
		"image_name":                  {required, str("ghcr.io/talmolab/lablink-client-base-image:latest"), "config default machine.image"},
		"repository":                  {required, str(""), "config default: no repository"},
		"client_ami_id":               {required, str("ami-00c257e12d6828491"), "config default machine.ami_id"},
		"cloud_init_output_log_group": {required, str(""), "unset CLOUD_INIT_LOG_GROUP means no log shipping"},
		"resource_prefix": {str("lablink-client-prod"), str("sleap-lablink-client-prod"),
			"what the default config yields: {machine.software}-lablink-client-{ENVIRONMENT}"},
		"custom_startup_script_path": {str("/config/custom-startup.sh"), str(""),
			`"" means no script; a path that does not exist fails the plan instead of being skipped`},
		"agent_token":    {str(""), required, "an empty token must never reach a VM"},
		"register_token": {str(""), required, "an empty token must never reach a VM (the allocator refuses it)"},
	}

	// Variables upstream does not have. The launcher renders a variable
	// only for a module that declares it, so upstream's module gets none
	// of them.
	oursOnly := map[string]string{
		"allocator_port": "the design's explicit port of the allocator URL for the client's fallback logic (issue 20; upstream dropped it)",
		"launch_id":      "each VM is tagged with the launch that created it, so a crash loses none (issue 16)",
		"inventory_dir":  "the local module's simulated cloud inventory (issue 16)",
	}

	up, upOrder := parseVariables(t, mustRead(t, filepath.Join("testdata", "upstream-variables.tf")), "upstream-variables.tf")
	ours, ourOrder := parseVariables(t, readModuleFile(t, "aws", "variables.tf"), "variables.tf")
	shared := slices.DeleteFunc(slices.Clone(ourOrder), func(name string) bool { _, only := oursOnly[name]; return only })
	assert.Equal(t, upOrder, shared, "variable names and order, ours-only ones left out")
	for _, name := range upOrder {
		u, o := up[name], ours[name]
		assert.Equal(t, u.Type, o.Type, "%s: type", name)
		assert.Equal(t, u.Sensitive, o.Sensitive, "%s: sensitive", name)
		want, ok := deliberate[name]
		if !ok {
			want = diff{upstream: u.Default, ours: u.Default}
		}
		assert.True(t, cmp.Equal(want.upstream, u.Default, ctyComparer), "%s: upstream default is %#v, want %#v", name, u.Default, want.upstream)
		assert.True(t, cmp.Equal(want.ours, o.Default, ctyComparer), "%s: our default is %#v, want %#v (%s)", name, o.Default, want.ours, want.why)
	}
	for name := range deliberate {
		assert.Contains(t, upOrder, name, "deliberate difference for a variable upstream does not have")
	}
	for name := range oursOnly {
		assert.Contains(t, ourOrder, name, "a variable of ours only that we do not declare")
		assert.NotContains(t, upOrder, name, "a variable of ours only that upstream declares")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

// moduleBodies parses every .tf file of mod except variables.tf.
func moduleBodies(t *testing.T, mod string) map[string]*hclsyntax.Body {
	t.Helper()
	fsys, err := FS(mod)
	require.NoError(t, err)
	files, err := fs.Glob(fsys, "*.tf")
	require.NoError(t, err)
	out := map[string]*hclsyntax.Body{}
	for _, name := range files {
		if name == "variables.tf" {
			continue
		}
		f, diags := hclsyntax.ParseConfig(readModuleFile(t, mod, name), mod+"/"+name, hcl.InitialPos)
		require.False(t, diags.HasErrors(), "%s/%s: %v", mod, name, diags)
		out[name] = f.Body.(*hclsyntax.Body)
	}
	return out
}

// rootNames returns, for every traversal under n that starts at root, the
// name that follows it (var.x → x).
func rootNames(n hclsyntax.Node, root string) map[string]bool {
	names := map[string]bool{}
	hclsyntax.VisitAll(n, func(n hclsyntax.Node) hcl.Diagnostics {
		if st, ok := n.(*hclsyntax.ScopeTraversalExpr); ok && st.Traversal.RootName() == root && len(st.Traversal) > 1 {
			if a, ok := st.Traversal[1].(hcl.TraverseAttr); ok {
				names[a.Name] = true
			}
		}
		return nil
	})
	return names
}

// TestVariablesUsed checks that each module uses every variable it
// declares, except those it accepts only for the contract, and that the
// boot script uses every value user_data.tf passes it and no other.
func TestVariablesUsed(t *testing.T) {
	declared, _ := parseVariables(t, readModuleFile(t, "aws", "variables.tf"), "variables.tf")
	unused := map[string][]string{
		// Upstream's contract has them; nothing here needs them. EC2 is
		// the aws module's inventory.
		"aws": {"ssh_user", "retry_number", "inventory_dir"},
		// Only EC2 needs these.
		"local": {"ssh_user", "retry_number", "machine_type", "region", "allocator_sg_id"},
	}
	for _, mod := range Names() {
		used := map[string]bool{}
		for _, body := range moduleBodies(t, mod) {
			maps.Copy(used, rootNames(body, "var"))
		}
		want := map[string]bool{}
		for name := range declared {
			if !slices.Contains(unused[mod], name) {
				want[name] = true
			}
		}
		assert.Equal(t, want, used, "%s: variables used outside variables.tf", mod)
	}

	// The keys of the templatefile call against the template's names.
	body := moduleBodies(t, "local")["user_data.tf"]
	var keys map[string]bool
	hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name != "templatefile" {
			return nil
		}
		require.Len(t, call.Args, 2)
		obj, ok := call.Args[1].(*hclsyntax.ObjectConsExpr)
		require.True(t, ok, "templatefile's second argument is an object")
		keys = map[string]bool{}
		for _, item := range obj.Items {
			keys[hcl.ExprAsKeyword(item.KeyExpr)] = true
		}
		return nil
	})
	require.NotEmpty(t, keys, "no templatefile call in user_data.tf")
	tmpl, diags := hclsyntax.ParseTemplate(readModuleFile(t, "local", "user_data.sh.tftpl"), "user_data.sh.tftpl", hcl.InitialPos)
	require.False(t, diags.HasErrors(), "%v", diags)
	inTemplate := map[string]bool{}
	for _, tr := range tmpl.Variables() {
		inTemplate[tr.RootName()] = true
	}
	assert.Equal(t, keys, inTemplate, "values passed to the template (want) and values it uses (got)")
}

// TestAWSModule checks what cannot be planned offline: the EC2 instance
// boots the per-VM user_data and carries the VM name, and only the
// allocator's security group reaches KasmVNC and the agent.
func TestAWSModule(t *testing.T) {
	body := moduleBodies(t, "aws")["main.tf"]
	block := func(typ, name string) *hclsyntax.Body {
		t.Helper()
		for _, b := range body.Blocks {
			if b.Type == "resource" && b.Labels[0] == typ && b.Labels[1] == name {
				return b.Body
			}
		}
		t.Fatalf("no resource %s.%s", typ, name)
		return nil
	}
	eval := func(expr hclsyntax.Expression, ctx *hcl.EvalContext) cty.Value {
		t.Helper()
		v, diags := expr.Value(ctx)
		require.False(t, diags.HasErrors(), "%v", diags)
		return v
	}

	vm := block("aws_instance", "lablink_vm")
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var":   cty.ObjectVal(map[string]cty.Value{"resource_prefix": cty.StringVal("pre"), "launch_id": cty.StringVal("L")}),
		"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(1)}),
		"local": cty.ObjectVal(map[string]cty.Value{"user_data_base64": cty.ListVal([]cty.Value{cty.StringVal("first"), cty.StringVal("second")})}),
	}}
	assert.Equal(t, cty.StringVal("second"), eval(vm.Attributes["user_data_base64"].Expr, ctx), "VM count.index 1 boots the second user_data")
	assert.NotContains(t, vm.Attributes, "user_data")
	// The tags package inventory lists the deployment's instances by.
	assert.Equal(t, map[string]cty.Value{
		inventory.TagName:       cty.StringVal("pre-vm-2"),
		inventory.TagDeployment: cty.StringVal("pre"),
		inventory.TagLaunchID:   cty.StringVal("L"),
	}, eval(vm.Attributes["tags"].Expr, ctx).AsValueMap(), "tags of VM count.index 1")
	var ignored []string
	for _, b := range vm.Blocks {
		switch b.Type {
		case "lifecycle":
			exprs, diags := hcl.ExprList(b.Body.Attributes["ignore_changes"].Expr)
			require.False(t, diags.HasErrors(), "%v", diags)
			for _, e := range exprs {
				tr, diags := hcl.AbsTraversalForExpr(e)
				require.False(t, diags.HasErrors(), "%v", diags)
				ignored = append(ignored, traversalString(t, tr))
			}
		case "metadata_options":
			assert.Equal(t, cty.StringVal("required"), eval(b.Body.Attributes["http_tokens"].Expr, nil), "IMDSv2 only")
		}
	}
	// A VM keeps the tags it was created with: a new launch_id must not
	// update it in place, which the allocator refuses.
	assert.Equal(t, []string{"user_data_base64", `tags["` + inventory.TagDeployment + `"]`, `tags["` + inventory.TagLaunchID + `"]`},
		ignored, "ignore_changes")

	sg := block("aws_security_group", "lablink_client")
	ports := map[int64]bool{}
	for _, b := range sg.Blocks {
		switch b.Type {
		case "ingress":
			from := eval(b.Body.Attributes["from_port"].Expr, nil)
			to := eval(b.Body.Attributes["to_port"].Expr, nil)
			require.True(t, from.Equals(to).True(), "single-port rules")
			p, _ := from.AsBigFloat().Int64()
			ports[p] = true
			assert.Equal(t, map[string]bool{"allocator_sg_id": true}, rootNames(b.Body.Attributes["security_groups"].Expr, "var"), "port %d: source", p)
			for _, attr := range []string{"cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids", "self"} {
				assert.NotContains(t, b.Body.Attributes, attr, "port %d", p)
			}
		case "dynamic":
			require.Equal(t, []string{"ingress"}, b.Labels)
			content := b.Body.Blocks[0].Body
			assert.True(t, eval(content.Attributes["from_port"].Expr, nil).Equals(cty.NumberIntVal(22)).True(), "the dynamic ingress is SSH")
			assert.Equal(t, map[string]bool{"ssh_ingress_cidrs": true}, rootNames(content.Attributes["cidr_blocks"].Expr, "local"))
		}
	}
	assert.Equal(t, map[int64]bool{6080: true, 7070: true}, ports, "static ingress ports")
	for _, b := range body.Blocks {
		if b.Type == "locals" {
			if a, ok := b.Body.Attributes["ssh_ingress_cidrs"]; ok {
				assert.Equal(t, 0, eval(a.Expr, nil).LengthInt(), "SSH is closed by default")
			}
		}
	}
}

// traversalString writes tr as it reads in configuration: tags["k"].
func traversalString(t *testing.T, tr hcl.Traversal) string {
	t.Helper()
	var b strings.Builder
	for _, step := range tr {
		switch step := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(step.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + step.Name)
		case hcl.TraverseIndex:
			fmt.Fprintf(&b, "[%q]", step.Key.AsString())
		default:
			t.Fatalf("unexpected traversal step %T", step)
		}
	}
	return b.String()
}

// vars are tfvars for the local module, keyed by variable name.
type vars map[string]cty.Value

// Values the tests choose. The strings carry characters the shell would
// interpret in any other quoting but that the validation rules allow: they
// must reach the VM unchanged.
const (
	testAllocatorIP   = "203.0.113.7"
	testAllocatorURL  = "https://lablink.example.org:8443/x?a=1&b=2;c=3|4"
	testAllocatorPort = 8443
	testLaunchID      = "20260501T120000Z-test0042"
	testImage         = "ghcr.io/example/client@sha256:0123456789abcdef"
	testRepository    = "https://github.com/example/repo.git#%{x}{{.}}*?[a]~!(){}<>&;|"
	testPrefix        = "sleap-lablink-client-test-42"
	testSoftware      = "sleap-ünï"
	testLogGroup      = "/lablink/cloud-init/test-42"
	testSuccessCheck  = "dGVzdCAtZiAvdG1wL29rICYmIGVjaG8gJyRIT01FJw==" // test -f /tmp/ok && echo '$HOME'
	testAgentToken    = "agent-token-for-tests_0123456789abcdef"
	testRegisterToken = "register-token-for-tests_0123456789abcdef"
	testSG            = "sg-0123456789abcdef0"
)

// fullVars sets every variable, none to its default.
func fullVars(count int) vars {
	return vars{
		"instance_count":              cty.NumberIntVal(int64(count)),
		"allocator_ip":                cty.StringVal(testAllocatorIP),
		"allocator_url":               cty.StringVal(testAllocatorURL),
		"allocator_port":              cty.NumberIntVal(testAllocatorPort),
		"machine_type":                cty.StringVal("g5.2xlarge"),
		"image_name":                  cty.StringVal(testImage),
		"repository":                  cty.StringVal(testRepository),
		"client_ami_id":               cty.StringVal("ami-0123456789abcdef0"),
		"resource_prefix":             cty.StringVal(testPrefix),
		"subject_software":            cty.StringVal(testSoftware),
		"gpu_support":                 cty.False,
		"cloud_init_output_log_group": cty.StringVal(testLogGroup),
		"region":                      cty.StringVal("eu-central-1"),
		"ssh_user":                    cty.StringVal("ec2-user"),
		"retry_number":                cty.NumberIntVal(9),
		"startup_on_error":            cty.StringVal("fail"),
		"startup_max_attempts":        cty.NumberIntVal(5),
		"startup_base_delay_seconds":  cty.NumberIntVal(7),
		"startup_success_check_b64":   cty.StringVal(testSuccessCheck),
		"custom_startup_script_path":  cty.StringVal(""),
		"agent_token":                 cty.StringVal(testAgentToken),
		"register_token":              cty.StringVal(testRegisterToken),
		"allocator_sg_id":             cty.StringVal(testSG),
		"launch_id":                   cty.StringVal(testLaunchID),
		// Relative to the module directory OpenTofu runs in.
		"inventory_dir": cty.StringVal("inventory"),
	}
}

// requiredVars sets only the variables without a default. The URL is
// https, whose port is allocator_port's default.
func requiredVars(count int) vars {
	return vars{
		"instance_count":  cty.NumberIntVal(int64(count)),
		"allocator_ip":    cty.StringVal("192.0.2.1"),
		"allocator_url":   cty.StringVal("https://192.0.2.1"),
		"gpu_support":     cty.True,
		"agent_token":     cty.StringVal(testAgentToken),
		"register_token":  cty.StringVal(testRegisterToken),
		"allocator_sg_id": cty.StringVal(testSG),
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

// writeVars writes v as a tfvars file in a new temporary directory.
func writeVars(t *testing.T, v vars) string {
	t.Helper()
	f := hclwrite.NewEmptyFile()
	for _, k := range slices.Sorted(maps.Keys(v)) {
		f.Body().SetAttributeValue(k, v[k])
	}
	p := filepath.Join(t.TempDir(), "test.tfvars")
	require.NoError(t, os.WriteFile(p, f.Bytes(), 0o600))
	return p
}

// newLocal materializes the local module into a fresh directory and runs
// init there; the module has no providers, so init works offline.
func newLocal(t *testing.T) *tfexec.Terraform {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "module")
	require.NoError(t, Materialize("local", dir))
	tf := tofutest.New(t, dir)
	require.NoError(t, tf.Init(t.Context()), "init")
	return tf
}

func apply(t *testing.T, tf *tfexec.Terraform, v vars) error {
	t.Helper()
	return tf.Apply(t.Context(), tfexec.VarFile(writeVars(t, v)))
}

// sensitiveList reads a sensitive list-of-strings output.
func sensitiveList(t *testing.T, out map[string]tfexec.OutputMeta, name string) []string {
	t.Helper()
	assert.True(t, out[name].Sensitive, "output %s is not sensitive", name)
	var l []string
	require.NoError(t, json.Unmarshal(out[name].Value, &l), "output %s", name)
	return l
}

// userData returns the rendered boot scripts from the user_data output.
func userData(t *testing.T, tf *tfexec.Terraform) []string {
	t.Helper()
	out, err := tf.Output(t.Context())
	require.NoError(t, err, "output")
	scripts := sensitiveList(t, out, "user_data")
	var n int
	require.NoError(t, json.Unmarshal(out["vm_count"].Value, &n), "output vm_count")
	assert.Equal(t, len(scripts), n, "vm_count against user_data entries")
	return scripts
}

func TestApplyLocal(t *testing.T) {
	t.Parallel()
	tf := newLocal(t)
	v := fullVars(2)
	require.NoError(t, apply(t, tf, v), "apply")
	out, err := tf.Output(t.Context())
	require.NoError(t, err)
	scripts := sensitiveList(t, out, "user_data")
	ec2 := sensitiveList(t, out, "user_data_base64")
	require.Len(t, scripts, 2)
	require.Len(t, ec2, 2)
	assert.NotEqual(t, scripts[0], scripts[1], "each VM has its own script")

	for i, s := range scripts {
		// Nothing reaches the script in plain text.
		for _, val := range []string{testAllocatorIP, testAllocatorURL, testImage, testRepository, testPrefix, testLogGroup, testAgentToken, testRegisterToken} {
			assert.NotContains(t, s, val, "user_data[%d]", i)
		}
		for j, r := range s {
			if r > 0x7e || (r < 0x20 && r != '\n') {
				t.Errorf("user_data[%d]: byte %d is %q; the MIME part says us-ascii", i, j, r)
				break
			}
		}
		checkCloudInit(t, ec2[i], s)
	}

	require.NoError(t, apply(t, tf, v.with("instance_count", cty.NumberIntVal(3))), "apply with 3")
	assert.Len(t, userData(t, tf), 3, "after instance_count = 3")
}

// checkCloudInit unpacks what EC2 would get (base64 of gzip of a MIME
// multipart) and checks that cloud-init would run script on every boot.
func checkCloudInit(t *testing.T, userDataBase64, script string) {
	t.Helper()
	gz, err := base64.StdEncoding.DecodeString(userDataBase64)
	require.NoError(t, err)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	require.NoError(t, err)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Less(t, len(gz), 16<<10, "EC2 limits user_data to 16 KiB")

	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	assert.Equal(t, "1.0", msg.Header.Get("MIME-Version"))
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/mixed", mt)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	type part struct{ Type, Body string }
	var parts []part
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		ct, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		require.NoError(t, err)
		parts = append(parts, part{ct, string(body)})
	}
	require.Len(t, parts, 2)
	assert.Equal(t, "text/cloud-config", parts[0].Type)
	assert.True(t, strings.HasPrefix(parts[0].Body, "#cloud-config\n"), "cloud-config part starts with #cloud-config")
	var cc map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(parts[0].Body), &cc))
	assert.Equal(t, map[string]any{"cloud_final_modules": []any{[]any{"scripts-user", "always"}}}, cc)
	assert.Equal(t, "text/x-shellscript", parts[1].Type)
	assert.Equal(t, script, parts[1].Body, "the shell part is the VM's script, byte for byte")
}

func TestRequiredVariables(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"instance_count", "allocator_ip", "allocator_url", "gpu_support", "agent_token", "register_token", "allocator_sg_id"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tf := newLocal(t)
			err := apply(t, tf, requiredVars(1).without(name))
			require.Error(t, err, "apply without %s", name)
			assert.Contains(t, err.Error(), `"`+name+`"`, "the error names %s", name)
		})
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	str := cty.StringVal
	dir := t.TempDir()
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
		{"resource_prefix", str("")},
		{"resource_prefix", str("-lead")},
		{"resource_prefix", str("a b")},
		{"resource_prefix", str("$HOME")},
		{"resource_prefix", str("a/b")},
		{"resource_prefix", str(strings.Repeat("a", 65))},
		{"region", str("us west 2")},
		{"subject_software", str("sleap\t")},
		{"cloud_init_output_log_group", str("a\x00b")},
		{"ssh_user", str("Root")},
		{"ssh_user", str("a;b")},
		{"retry_number", cty.NumberIntVal(-1)},
		{"retry_number", cty.NumberFloatVal(0.5)},
		{"startup_on_error", str("ignore")},
		{"startup_success_check_b64", str("abc")},
		{"startup_success_check_b64", str("ab c")},
		{"startup_max_attempts", cty.NumberIntVal(0)},
		{"startup_base_delay_seconds", cty.NumberFloatVal(1.5)},
		{"custom_startup_script_path", str(filepath.Join(dir, "missing.sh"))},
		{"custom_startup_script_path", str(dir)},
		{"agent_token", str("")},
		{"agent_token", str("short_0123456")},
		{"agent_token", str("has+plus/slash=0123456789")},
		{"register_token", str("")},
		{"register_token", str("with space 0123456789abcdef")},
		{"register_token", str("line\nbreak0123456789abcdef")},
		{"allocator_sg_id", str("")},
		{"allocator_sg_id", str("sg-XYZ01234")},
		{"allocator_sg_id", str("i-0123456789abcdef0")},
		{"instance_count", cty.NumberIntVal(-1)},
		{"instance_count", cty.NumberFloatVal(1.5)},
		{"allocator_port", cty.NumberIntVal(0)},
		{"allocator_port", cty.NumberIntVal(65536)},
		{"allocator_port", cty.NumberFloatVal(443.5)},
		{"launch_id", str("-lead")},
		{"launch_id", str("a/b")},
		{"launch_id", str("a b")},
		{"launch_id", str("$(id)")},
		{"launch_id", str(strings.Repeat("a", 129))},
		{"inventory_dir", str("a\nb")},
		{"inventory_dir", str("a\tb")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tf := newLocal(t)
			err := apply(t, tf, fullVars(0).with(tc.name, tc.value))
			require.Error(t, err, "%s = %#v: apply succeeded, want a validation error", tc.name, tc.value)
			// Terraform says "var.NAME"; OpenTofu points at the block,
			// `variable "NAME"`.
			msg := err.Error()
			assert.True(t, strings.Contains(msg, "var."+tc.name) || strings.Contains(msg, `variable "`+tc.name+`"`),
				"%s = %#v: error does not name the variable:\n%v", tc.name, tc.value, err)
		})
	}
}

// TestAllocatorPortAgrees: allocator_port must be the port of
// allocator_url (its own, else the scheme's), or the plan fails naming
// it, once.
func TestAllocatorPortAgrees(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
		port int64
		ok   bool
	}{
		{"https", "https://lablink.example.org", 443, true},
		{"http", "http://203.0.113.10", 80, true},
		{"own port", "https://lablink.example.org:8443/x?y=1", 8443, true},
		{"IPv6 with port", "http://[2001:db8::1]:8080", 8080, true},
		{"IPv6", "http://[2001:db8::1]/", 80, true},
		{"the scheme's port for another", "https://lablink.example.org:8443", 443, false},
		{"http's port for https", "https://lablink.example.org", 80, false},
		{"the default for http", "http://203.0.113.10", 443, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tf := newLocal(t)
			v := fullVars(1).with("allocator_url", cty.StringVal(tc.url)).with("allocator_port", cty.NumberIntVal(tc.port))
			_, err := tf.Plan(t.Context(), tfexec.VarFile(writeVars(t, v)))
			if tc.ok {
				assert.NoError(t, err, "%s: %s with port %d", tc.name, tc.url, tc.port)
				return
			}
			require.Error(t, err, "%s: %s with port %d planned", tc.name, tc.url, tc.port)
			assert.Equal(t, 1, strings.Count(err.Error(), "is not the port of allocator_url"), "%s: the error once:\n%v", tc.name, err)
			assert.Contains(t, err.Error(), fmt.Sprintf("allocator_port is %d", tc.port))
		})
	}
}

// planActions plans v and returns the actions per resource address.
func planActions(t *testing.T, tf *tfexec.Terraform, v vars) map[string]tfjson.Actions {
	t.Helper()
	planPath := filepath.Join(t.TempDir(), "plan.out")
	_, err := tf.Plan(t.Context(), tfexec.VarFile(writeVars(t, v)), tfexec.Out(planPath))
	require.NoError(t, err, "plan")
	plan, err := tf.ShowPlanFile(t.Context(), planPath)
	require.NoError(t, err, "show plan")
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
	require.NoError(t, apply(t, tf, v), "apply")
	vms := []string{"terraform_data.lablink_vm[0]", "terraform_data.lablink_vm[1]"}

	got := planActions(t, tf, v.with("client_ami_id", cty.StringVal("ami-0fedcba9876543210")))
	for _, addr := range vms {
		assert.True(t, got[addr].Replace(), "new AMI: %s actions %v, want a replace", addr, got[addr])
	}

	// A changed config, tokens included, only affects VMs created from now
	// on: running VMs keep the user_data they were created with.
	got = planActions(t, tf, v.
		with("repository", cty.StringVal("https://example.com/other")).
		with("agent_token", cty.StringVal("another-agent-token-0123456789")).
		with("instance_count", cty.NumberIntVal(3)))
	want := map[string]tfjson.Actions{
		vms[0]:                         {tfjson.ActionNoop},
		vms[1]:                         {tfjson.ActionNoop},
		"terraform_data.lablink_vm[2]": {tfjson.ActionCreate},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("new repository, new token and one more VM (-want +got):\n%s", diff)
	}
}

// TestCustomStartupScriptMissing: a path that does not exist fails the
// plan; it is never skipped. Without the validation block (see
// strippedModule) filebase64 still fails it.
func TestCustomStartupScriptMissing(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "no such script.sh")
	v := fullVars(1).with("custom_startup_script_path", cty.StringVal(missing))

	tf := newLocal(t)
	_, err := tf.Plan(t.Context(), tfexec.VarFile(writeVars(t, v)))
	require.Error(t, err, "plan with a missing startup script")
	assert.Contains(t, err.Error(), "custom_startup_script_path")

	dir := strippedModule(t)
	wrapper := filepath.Join(t.TempDir(), "root")
	require.NoError(t, os.MkdirAll(wrapper, 0o755))
	var args strings.Builder
	for _, k := range slices.Sorted(maps.Keys(v)) {
		f := hclwrite.NewEmptyFile()
		f.Body().SetAttributeValue(k, v[k])
		args.Write(f.Bytes())
	}
	main := fmt.Sprintf("module \"vm\" {\n  source = %q\n%s}\n", dir, args.String())
	require.NoError(t, os.WriteFile(filepath.Join(wrapper, "main.tf"), []byte(main), 0o600))
	tf = tofutest.New(t, wrapper)
	require.NoError(t, tf.Init(t.Context()))
	_, err = tf.Plan(t.Context())
	require.Error(t, err, "plan of the module without validation, with a missing startup script")
	assert.Contains(t, err.Error(), "no file exists")
}

// strippedModule materializes the local module with every validation
// block removed, so that values the variables refuse reach the boot
// script: its own guarantees must hold without the first line of defense.
func strippedModule(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "local")
	require.NoError(t, Materialize("local", dir))
	path := filepath.Join(dir, "variables.tf")
	f, diags := hclwrite.ParseConfig(mustRead(t, path), path, hcl.InitialPos)
	require.False(t, diags.HasErrors(), "%v", diags)
	n := 0
	for _, b := range f.Body().Blocks() {
		for _, vb := range b.Body().Blocks() {
			if vb.Type() == "validation" {
				b.Body().RemoveBlock(vb)
				n++
			}
		}
	}
	require.Greater(t, n, 20, "validation blocks removed")
	require.NotContains(t, string(f.Bytes()), "validation {")
	require.NoError(t, os.WriteFile(path, f.Bytes(), 0o644))
	return dir
}
