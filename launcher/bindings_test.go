package launcher_test

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

func schema(t testing.TB, name string) *tfvars.Schema {
	t.Helper()
	fsys, err := terraform.FS(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tfvars.LoadSchemaFS(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The binding table and the module's variables.tf name the same variables:
// a variable without a source, or a source without a variable, fails here.
func TestBindingsCoverModule(t *testing.T) {
	for _, name := range terraform.Names {
		t.Run(name, func(t *testing.T) {
			var declared []string
			for _, v := range schema(t, name).Variables() {
				declared = append(declared, v.Name)
			}
			slices.Sort(declared)
			bound := launcher.Order()
			slices.Sort(bound)
			if diff := cmp.Diff(declared, bound); diff != "" {
				t.Errorf("variables.tf vs binding table (-declared +bound):\n%s", diff)
			}
		})
	}
}

func TestNoDefaultsDrift(t *testing.T) {
	for _, name := range terraform.Names {
		if d := launcher.Drift(schema(t, name)); len(d) != 0 {
			t.Errorf("%s module drifts from the Go defaults: %v", name, d)
		}
	}
}

// Drift is reported for a module whose default disagrees with DefaultConfig,
// as upstream's t2.medium did.
func TestDriftDetected(t *testing.T) {
	dir := t.TempDir()
	if err := terraform.Materialize("local", dir); err != nil {
		t.Fatal(err)
	}
	path := dir + "/variables.tf"
	src := readFile(t, path)
	src = strings.Replace(src, `default     = "g4dn.xlarge"`, `default     = "t2.medium"`, 1)
	if !strings.Contains(src, "t2.medium") {
		t.Fatal("could not edit the machine_type default; did variables.tf change layout?")
	}
	writeFile(t, path, src)
	got, err := tfvars.LoadSchema(dir)
	if err != nil {
		t.Fatal(err)
	}
	drift := launcher.Drift(got)
	if len(drift) != 1 || drift[0].Variable != "machine_type" || !strings.Contains(drift[0].String(), `"t2.medium"`) ||
		!strings.Contains(drift[0].String(), `machine.machine_type`) || !strings.Contains(drift[0].String(), `"g4dn.xlarge"`) {
		t.Errorf("Drift = %v, want one entry naming t2.medium, machine.machine_type and g4dn.xlarge", drift)
	}
}

func defaultInputs(t testing.TB) launcher.Inputs {
	t.Helper()
	in, _, err := launcher.Resolve(context.Background(), lablink.DefaultConfig(),
		launcher.Env{AllocatorIP: "203.0.113.10"}, gpu.Catalog{})
	if err != nil {
		t.Fatal(err)
	}
	in.InstanceCount = 3
	return in
}

func TestValuesFollowTheirSources(t *testing.T) {
	cfg := lablink.DefaultConfig()
	cfg.Machine.Repository = "https://github.com/talmolab/sleap-tutorial-data.git"
	cfg.StartupScript.SuccessCheck = `test -f "/ready" && echo $(date) ${x}`
	cfg.SSL.Provider = "none"
	in, info, err := launcher.Resolve(context.Background(), cfg,
		launcher.Env{AllocatorIP: "203.0.113.10", Environment: " Test ", LogGroup: "/aws/lablink"}, gpu.Catalog{})
	if err != nil {
		t.Fatal(err)
	}
	if !info.HasNVIDIA() || info.Source != gpu.SourceCatalog {
		t.Errorf("GPU info = %+v, want NVIDIA from the catalog", info)
	}
	in.InstanceCount = 7
	got := launcher.Values(in)
	want := map[string]cty.Value{
		"allocator_ip":                cty.StringVal("203.0.113.10"),
		"allocator_url":               cty.StringVal("http://203.0.113.10"),
		"allocator_port":              cty.NumberIntVal(80),
		"machine_type":                cty.StringVal("g4dn.xlarge"),
		"image_name":                  cty.StringVal("ghcr.io/talmolab/lablink-client-base-image:latest"),
		"repository":                  cty.StringVal("https://github.com/talmolab/sleap-tutorial-data.git"),
		"client_ami_id":               cty.StringVal("ami-00c257e12d6828491"),
		"subject_software":            cty.StringVal("sleap"),
		"resource_suffix":             cty.StringVal("test"),
		"gpu_support":                 cty.True,
		"cloud_init_output_log_group": cty.StringVal("/aws/lablink"),
		"region":                      cty.StringVal("us-west-2"),
		"startup_on_error":            cty.StringVal("continue"),
		"startup_max_attempts":        cty.NumberIntVal(3),
		"startup_base_delay_seconds":  cty.NumberIntVal(30),
		"startup_success_check_b64":   cty.StringVal(base64.StdEncoding.EncodeToString([]byte(cfg.StartupScript.SuccessCheck))),
		"instance_count":              cty.NumberIntVal(7),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) })); diff != "" {
		t.Errorf("Values (-want +got):\n%s", diff)
	}
}

// A missing repository is "" in the file, never "None"; a missing log group
// too.
func TestMissingValuesAreEmpty(t *testing.T) {
	r, err := launcher.Render(schema(t, "aws"), defaultInputs(t), tfvars.HCL)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(r.Data), "None") {
		t.Errorf("rendered file mentions None:\n%s", r.Data)
	}
	for _, name := range []string{"repository", "cloud_init_output_log_group"} {
		if v := r.Values[name]; !v.RawEquals(cty.StringVal("")) {
			t.Errorf("%s = %#v, want \"\"", name, v)
		}
	}
	// gpu_support is a bool in the file, not the string "true".
	if !strings.Contains(string(r.Data), "gpu_support                 = true\n") && !strings.Contains(string(r.Data), "gpu_support = true") {
		t.Errorf("gpu_support is not rendered as a bare bool:\n%s", r.Data)
	}
}

func TestRenderBothFormats(t *testing.T) {
	in := defaultInputs(t)
	for _, f := range []tfvars.Format{tfvars.HCL, tfvars.JSON} {
		r, err := launcher.Render(schema(t, "aws"), in, f)
		if err != nil {
			t.Fatalf("format %v: %v", f, err)
		}
		parsed, err := tfvars.Parse(r.Data, f)
		if err != nil {
			t.Fatal(err)
		}
		if got := parsed["instance_count"]; !got.Equals(cty.NumberIntVal(3)).True() {
			t.Errorf("format %v: instance_count = %#v, want 3 (written into the file, not passed as -var)", f, got)
		}
	}
}

// Verify catches a file that does not say what the config says, naming the
// variable and the config field.
func TestVerifyNamesVariableAndField(t *testing.T) {
	in := defaultInputs(t)
	r, err := launcher.Render(schema(t, "aws"), in, tfvars.HCL)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(string(r.Data), `"g4dn.xlarge"`, `"t2.medium"`, 1)
	err = launcher.Verify([]byte(tampered), tfvars.HCL, in)
	if err == nil {
		t.Fatal("Verify accepted a tampered file")
	}
	if want := `machine_type = "t2.medium" but machine.machine_type = "g4dn.xlarge"`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

type failingDetector struct{ err error }

func (f failingDetector) Detect(context.Context, string) (gpu.Info, error) { return gpu.Info{}, f.err }

func TestResolveErrors(t *testing.T) {
	apiDown := errors.New("ec2: 503 service unavailable")
	bad := lablink.DefaultConfig()
	bad.Machine.MachineType = "$(reboot)"
	tests := []struct {
		name string
		cfg  lablink.Config
		env  launcher.Env
		gpus launcher.GPUDetector
		want []string
		is   error
	}{
		{"invalid config names the path", bad, launcher.Env{AllocatorIP: "203.0.113.10"}, gpu.Catalog{},
			[]string{"machine.machine_type"}, lablink.ErrInvalidValue},
		{"bad environment", lablink.DefaultConfig(), launcher.Env{AllocatorIP: "203.0.113.10", Environment: "a;b"}, gpu.Catalog{},
			[]string{"ENVIRONMENT"}, nil},
		{"bad log group", lablink.DefaultConfig(), launcher.Env{AllocatorIP: "203.0.113.10", LogGroup: "x$(id)"}, gpu.Catalog{},
			[]string{"CLOUD_INIT_LOG_GROUP"}, nil},
		{"bad IP", lablink.DefaultConfig(), launcher.Env{AllocatorIP: "1.2.3"}, gpu.Catalog{},
			[]string{"ALLOCATOR_PUBLIC_IP"}, nil},
		{"missing IP, with the other problems", lablink.DefaultConfig(), launcher.Env{Environment: "a;b"}, gpu.Catalog{},
			[]string{"ALLOCATOR_PUBLIC_IP is not set", "ENVIRONMENT"}, nil},
		{"GPU API failure is an error, never no GPU", lablink.DefaultConfig(), launcher.Env{AllocatorIP: "203.0.113.10"},
			failingDetector{apiDown}, []string{"503"}, apiDown},
		{"unknown instance type", lablink.DefaultConfig(), launcher.Env{AllocatorIP: "203.0.113.10"},
			failingDetector{gpu.ErrUnknownInstanceType}, nil, gpu.ErrUnknownInstanceType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := launcher.Resolve(context.Background(), tt.cfg, tt.env, tt.gpus)
			if err == nil {
				t.Fatal("Resolve succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

func TestSourcesNameEveryVariable(t *testing.T) {
	src := launcher.Sources()
	if got := src["machine_type"]; got != "config machine.machine_type" {
		t.Errorf(`Sources()["machine_type"] = %q`, got)
	}
	if len(src) != len(launcher.Order()) {
		t.Errorf("Sources has %d entries, the table %d", len(src), len(launcher.Order()))
	}
}

func TestConfigDigestIgnoresSecrets(t *testing.T) {
	a := lablink.DefaultConfig()
	b := a
	b.App.AdminPassword = "another-password"
	b.DB.Password = "x"
	if launcher.ConfigDigest(a) != launcher.ConfigDigest(b) {
		t.Error("digest changes with passwords")
	}
	b.Machine.MachineType = "t3.large"
	if launcher.ConfigDigest(a) == launcher.ConfigDigest(b) {
		t.Error("digest ignores machine_type")
	}
	if !strings.HasPrefix(launcher.ConfigDigest(a), "sha256:") {
		t.Error("digest lacks its sha256: prefix")
	}
}
