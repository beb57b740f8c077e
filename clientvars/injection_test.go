package clientvars_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/bootsim"
	"github.com/lablink-go/lablink/internal/injection"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
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
	in           clientvars.Inputs
	rendered     clientvars.Rendered
}

// envFields are the run-time inputs from the environment, by variable.
var envFields = map[string]func(*clientvars.Env, string){
	"ALLOCATOR_PUBLIC_IP":  func(e *clientvars.Env, v string) { e.AllocatorIP = v },
	"ENVIRONMENT":          func(e *clientvars.Env, v string) { e.Environment = v },
	"ALLOCATOR_FQDN":       func(e *clientvars.Env, v string) { e.FQDN = v },
	"CLOUD_INIT_LOG_GROUP": func(e *clientvars.Env, v string) { e.LogGroup = v },
}

// injectionCases resolves and renders every value of the corpus in every
// string field of config.yaml and every environment input. A rejected
// value must be rejected naming its field; the accepted ones are returned,
// one per distinct rendered file.
func injectionCases(t *testing.T, schema *tfvars.Schema) []injectionCase {
	t.Helper()
	corpus, err := injection.Corpus()
	require.NoError(t, err)
	baseEnv := clientvars.Env{AllocatorIP: "192.0.2.10", Environment: "test", LogGroup: "lablink/test",
		AllocatorSGID: testkit.SecurityGroup, AgentToken: testkit.AgentToken, RegisterToken: testkit.RegisterToken}
	seen := map[string]bool{}
	var cases []injectionCase
	add := func(field, value string, cfg lablink.Config, env clientvars.Env) {
		in, _, err := clientvars.Resolve(t.Context(), cfg, env, nvidiaEverywhere{})
		if err != nil {
			assert.ErrorContains(t, err, field, "%s = %q: the error names the field", field, value)
			return
		}
		in.InstanceCount = 1
		r, err := clientvars.Render(schema, in, tfvars.HCL)
		if !assert.NoError(t, err, "%s = %q: resolved, so it renders", field, value) {
			return
		}
		if !seen[r.SHA256] {
			seen[r.SHA256] = true
			cases = append(cases, injectionCase{field: field, value: value, in: in, rendered: r})
		}
	}
	for _, path := range injection.StringFields() {
		tmpl, err := injection.NewTemplate(testkit.Config(), path)
		require.NoError(t, err)
		for _, v := range corpus {
			// Problems are Resolve's to report; what matters is what a
			// config that loads carries to the VM.
			cfg, _, _ := lablink.ParseConfig(tmpl.With(v))
			got, _ := injection.Field(cfg, path)
			require.Equal(t, v, got, "%s arrives in Config byte-identical", path)
			add(path, v, cfg, baseEnv)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(envFields)) {
		for _, v := range corpus {
			env := baseEnv
			envFields[name](&env, v)
			add(name, v, testkit.Config(), env)
		}
	}
	return cases
}

// wrapperModule writes a root module into dir that instantiates the local
// client module once per case (module for_each), passing every variable
// from var.cases, and outputs each instance's rendered user_data.
func wrapperModule(t *testing.T, dir string, schema *tfvars.Schema) {
	t.Helper()
	require.NoError(t, terraform.Materialize("local", filepath.Join(dir, "local")))
	var attrs, args strings.Builder
	for _, v := range schema.Variables() {
		// A variable the render leaves to the module is null in the
		// case object; null for a non-nullable variable means its default.
		ty := typeexpr.TypeString(v.Type)
		if !v.Required() {
			ty = "optional(" + ty + ")"
		}
		fmt.Fprintf(&attrs, "    %s = %s\n", v.Name, ty)
		fmt.Fprintf(&args, "  %s = each.value.%s\n", v.Name, v.Name)
	}
	main := "variable \"cases\" {\n  type = map(object({\n" + attrs.String() + "  }))\n}\n\n" +
		"module \"vm\" {\n  source   = \"./local\"\n  for_each = var.cases\n" + args.String() + "}\n\n" +
		"output \"user_data\" {\n  value     = { for k, m in module.vm : k => m.user_data[0] }\n  sensitive = true\n}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o600))
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
	require.GreaterOrEqual(t, len(cases), 100, "accepted values that reach the module; fewer and the corpus lost its teeth")
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
	require.NoError(t, os.WriteFile(varFile, []byte(vars.String()), 0o600))
	tf := tofutest.New(t, dir)
	require.NoError(t, tf.Init(t.Context()), "init")
	require.NoError(t, tf.Apply(t.Context(), tfexec.VarFile(varFile), tfexec.Parallelism(32)), "apply")
	out, err := tf.Output(t.Context())
	require.NoError(t, err)
	var scripts map[string]string
	require.NoError(t, json.Unmarshal(out["user_data"].Value, &scripts), "user_data output")
	require.Len(t, scripts, len(cases), "one script per case")

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

// checkBoot runs a case's boot and compares what the container receives
// with values the test reads itself: config fields by their YAML path (the
// corpus value as written in config.yaml, for the field under test), the
// environment inputs as resolved, the tokens the test gave. Nothing here
// comes from the binding table. It runs in its own goroutine, so it
// reports with assert only.
func checkBoot(t *testing.T, c injectionCase, script string) {
	name := fmt.Sprintf("%s = %q", c.field, c.value)
	boot, err := bootsim.Run(context.Background(), t.TempDir(), script, bootsim.Options{})
	if !assert.NoError(t, err, name) {
		return
	}
	field := func(path string) string {
		v, ok := c.in.Config.Field(path)
		assert.True(t, ok, "no config field %s", path)
		return fmt.Sprint(v)
	}
	vmName := field("machine.software") + "-lablink-client-" + c.in.Environment + "-vm-1"
	want := boot.WantCalls(bootsim.Want{
		LogGroup: c.in.LogGroup != "", AllocatorURL: c.in.URL.String(), RegisterToken: testkit.RegisterToken,
		VMName: vmName, GPU: c.in.GPU, Image: field("machine.image"),
	})
	assert.Equal(t, want, boot.Calls, "%s: commands", name)
	env, err := boot.Env()
	if !assert.NoError(t, err, name) {
		return
	}
	assert.Equal(t, map[string]string{
		"ALLOCATOR_HOST":             c.in.AllocatorIP,
		"ALLOCATOR_URL":              c.in.URL.String(),
		"ALLOCATOR_PORT":             strconv.Itoa(c.in.URL.Port),
		"TUTORIAL_REPO_TO_CLONE":     field("machine.repository"),
		"VM_NAME":                    vmName,
		"SUBJECT_SOFTWARE":           field("machine.software"),
		"STARTUP_ON_ERROR":           field("startup_script.on_error"),
		"STARTUP_MAX_ATTEMPTS":       field("startup_script.max_attempts"),
		"STARTUP_BASE_DELAY_SECONDS": field("startup_script.base_delay_seconds"),
		"STARTUP_SUCCESS_CHECK_B64":  base64.StdEncoding.EncodeToString([]byte(field("startup_script.success_check"))),
		"AGENT_TOKEN":                testkit.AgentToken,
		"CLIENT_SECRET":              bootsim.DefaultClientSecret,
		"REGISTER_RESPONSE":          strings.NewReplacer("\r", "", "\n", "").Replace(bootsim.DefaultRegisterAnswer),
	}, env, "%s: client.env", name)
	// The field under test, as written in config.yaml, is what the
	// container reads.
	if envName, ok := containerEnv[c.field]; ok {
		got := env[envName]
		if c.field == "startup_script.success_check" {
			b, err := base64.StdEncoding.DecodeString(got)
			assert.NoError(t, err, name)
			got = string(b)
		}
		assert.Equal(t, c.value, got, "%s reaches the container as %s", c.field, envName)
	}
	assert.NoError(t, boot.CheckTripwires(), name)
}

// containerEnv names the container variable each config field reaches
// unchanged.
var containerEnv = map[string]string{
	"machine.repository":           "TUTORIAL_REPO_TO_CLONE",
	"machine.software":             "SUBJECT_SOFTWARE",
	"startup_script.on_error":      "STARTUP_ON_ERROR",
	"startup_script.success_check": "STARTUP_SUCCESS_CHECK_B64",
}
