package launcher_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/bootsim"
	"github.com/lablink-go/lablink/internal/injection"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

// nvidiaEverywhere answers "one NVIDIA GPU" for any instance type, so that
// an unusual but valid machine_type reaches the module.
type nvidiaEverywhere struct{}

func (nvidiaEverywhere) Detect(_ context.Context, it string) (gpu.Info, error) {
	return gpu.Info{InstanceType: it, GPUs: []gpu.GPU{{Manufacturer: "NVIDIA", Name: "T4", Count: 1}}, Source: gpu.SourceCatalog}, nil
}

// injectionCase is one accepted hostile value, rendered.
type injectionCase struct {
	field, value string
	in           launcher.Inputs
	rendered     launcher.Rendered
}

// envFields are the run-time inputs from the environment, by variable.
var envFields = map[string]func(*launcher.Env, string){
	"ALLOCATOR_PUBLIC_IP":  func(e *launcher.Env, v string) { e.AllocatorIP = v },
	"ENVIRONMENT":          func(e *launcher.Env, v string) { e.Environment = v },
	"ALLOCATOR_FQDN":       func(e *launcher.Env, v string) { e.FQDN = v },
	"CLOUD_INIT_LOG_GROUP": func(e *launcher.Env, v string) { e.LogGroup = v },
}

// injectionCases resolves and renders every value of the corpus in every
// string field of config.yaml and every environment input. A rejected
// value must be rejected naming its field; the accepted ones are returned,
// one per distinct rendered file.
func injectionCases(t *testing.T, schema *tfvars.Schema) []injectionCase {
	t.Helper()
	corpus, err := injection.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	baseEnv := launcher.Env{AllocatorIP: "192.0.2.10", Environment: "test", LogGroup: "lablink/test"}
	seen := map[string]bool{}
	var cases []injectionCase
	add := func(field, value string, cfg lablink.Config, env launcher.Env) {
		in, _, err := launcher.Resolve(t.Context(), cfg, env, nvidiaEverywhere{})
		if err != nil {
			if !strings.Contains(err.Error(), field) {
				t.Errorf("%s = %q: error does not name %s:\n%v", field, value, field, err)
			}
			return
		}
		in.InstanceCount = 1
		r, err := launcher.Render(schema, in, tfvars.HCL)
		if err != nil {
			t.Errorf("%s = %q: resolved but does not render: %v", field, value, err)
			return
		}
		if !seen[r.SHA256] {
			seen[r.SHA256] = true
			cases = append(cases, injectionCase{field: field, value: value, in: in, rendered: r})
		}
	}
	for _, path := range injection.StringFields() {
		tmpl, err := injection.NewTemplate(lablink.DefaultConfig(), path)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range corpus {
			cfg, err := lablink.ParseConfig(tmpl.With(v))
			if err != nil {
				t.Fatalf("%s = %q: %v", path, v, err)
			}
			add(path, v, cfg, baseEnv)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(envFields)) {
		for _, v := range corpus {
			env := baseEnv
			envFields[name](&env, v)
			add(name, v, lablink.DefaultConfig(), env)
		}
	}
	return cases
}

// wrapperModule writes a root module into dir that instantiates the local
// client module once per case (module for_each), passing every variable
// from var.cases, and outputs each instance's rendered user_data.
func wrapperModule(t *testing.T, dir string, schema *tfvars.Schema) {
	t.Helper()
	if err := terraform.Materialize("local", filepath.Join(dir, "local")); err != nil {
		t.Fatal(err)
	}
	var attrs, args strings.Builder
	for _, v := range schema.Variables() {
		fmt.Fprintf(&attrs, "    %s = %s\n", v.Name, typeexpr.TypeString(v.Type))
		fmt.Fprintf(&args, "  %s = each.value.%s\n", v.Name, v.Name)
	}
	main := "variable \"cases\" {\n  type = map(object({\n" + attrs.String() + "  }))\n}\n\n" +
		"module \"vm\" {\n  source   = \"./local\"\n  for_each = var.cases\n" + args.String() + "}\n\n" +
		"output \"user_data\" {\n  value     = { for k, m in module.vm : k => m.user_data[0] }\n  sensitive = true\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestInjectionReachesVMIntact is the end-to-end injection test. Every
// hostile value of testdata/injection.json, in every string field of
// config.yaml and every environment input, is either rejected naming its
// field, or it is rendered into a runtime tfvars file whose exact bytes
// OpenTofu parses and feeds to the real local module; the user_data
// OpenTofu renders then runs as a simulated boot (bash, with every command
// it might call stubbed). The boot must run exactly the expected commands
// with exactly the expected arguments, and write an env file holding every
// value byte-identical: no value is interpreted by the shell, by
// OpenTofu's template engine or by HCL.
func TestInjectionReachesVMIntact(t *testing.T) {
	schema := schema(t, "local")
	cases := injectionCases(t, schema)
	if len(cases) < 100 {
		t.Fatalf("only %d accepted values reach the module; the corpus lost its teeth", len(cases))
	}
	t.Logf("%d distinct accepted renders", len(cases))

	// One tfvars file holding every case's rendered bytes, verbatim, as
	// the body of one object: what OpenTofu parses is what Render wrote.
	var vars strings.Builder
	vars.WriteString("cases = {\n")
	for i, c := range cases {
		fmt.Fprintf(&vars, "c%04d = {\n%s\n}\n", i, c.rendered.Data)
	}
	vars.WriteString("}\n")
	dir := t.TempDir()
	wrapperModule(t, dir, schema)
	varFile := filepath.Join(dir, "cases.tfvars")
	if err := os.WriteFile(varFile, []byte(vars.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	tf := tofutest.New(t, dir)
	if err := tf.Init(t.Context()); err != nil {
		t.Fatalf("init: %v", err)
	}
	if err := tf.Apply(t.Context(), tfexec.VarFile(varFile), tfexec.Parallelism(32)); err != nil {
		t.Fatalf("apply: %v", err)
	}
	out, err := tf.Output(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var scripts map[string]string
	if err := json.Unmarshal(out["user_data"].Value, &scripts); err != nil {
		t.Fatalf("user_data output: %v", err)
	}
	if len(scripts) != len(cases) {
		t.Fatalf("%d scripts for %d cases", len(scripts), len(cases))
	}

	// Simulated boots, a few at a time.
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, c := range cases {
		script := scripts[fmt.Sprintf("c%04d", i)]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			checkBoot(t, c, script)
		})
	}
	wg.Wait()
}

func checkBoot(t *testing.T, c injectionCase, script string) {
	name := fmt.Sprintf("%s = %q", c.field, c.value)
	boot, err := bootsim.Run(context.Background(), t.TempDir(), script)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	want := boot.WantCalls(c.in.Config.Machine.Image, c.in.GPU, c.in.LogGroup)
	if diff := cmp.Diff(want, boot.Calls); diff != "" {
		t.Errorf("%s: commands (-want +got):\n%s", name, diff)
	}
	vals := launcher.Values(c.in)
	env, err := os.ReadFile(boot.EnvPath())
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	wantEnv := bootsim.WantEnvFile(func(v string) string { return bootsim.TemplateString(vals[v]) })
	if diff := cmp.Diff(wantEnv, string(env)); diff != "" {
		t.Errorf("%s: client.env (-want +got):\n%s", name, diff)
	}
	// success_check travels base64-encoded; decoded it is the config value.
	for line := range strings.Lines(string(env)) {
		if b64, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "STARTUP_SUCCESS_CHECK_B64="); ok {
			got, err := base64.StdEncoding.DecodeString(b64)
			if err != nil || string(got) != c.in.Config.StartupScript.SuccessCheck {
				t.Errorf("%s: success check arrived as %q (%v)", name, got, err)
			}
		}
	}
}
