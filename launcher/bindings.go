package launcher

import (
	"encoding/base64"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/allocurl"
	"github.com/lablink-go/lablink/tfvars"
)

// Kind says where a variable's value comes from.
type Kind string

const (
	// FromConfig: a field of config.yaml, named by its YAML path.
	FromConfig Kind = "config"
	// FromDerived: computed at run time (allocator URL and port, GPU support).
	FromDerived Kind = "derived"
	// FromEnvironment: the allocator's process environment.
	FromEnvironment Kind = "environment"
	// FromRequest: the launch request (instance_count).
	FromRequest Kind = "request"
)

// Inputs is everything the binding table reads: the config and the values
// that exist only at run time. Resolve builds it from a config and an Env.
type Inputs struct {
	Config lablink.Config
	// AllocatorIP is the allocator's public IP (ALLOCATOR_PUBLIC_IP).
	AllocatorIP string
	// Environment is the normalized environment name (ENVIRONMENT).
	Environment string
	// LogGroup is the CloudWatch log group for cloud-init output
	// (CLOUD_INIT_LOG_GROUP), "" for none.
	LogGroup string
	// URL is the allocator URL (see allocurl.Derive).
	URL allocurl.URL
	// GPU reports whether machine.machine_type has NVIDIA GPUs.
	GPU bool
	// InstanceCount is requested plus already running VMs.
	InstanceCount int
}

// Binding maps one module variable to its source.
type Binding struct {
	Variable string
	Kind     Kind
	// Source names the origin: a YAML path for FromConfig, an environment
	// variable for FromEnvironment, otherwise a short description.
	Source string
	value  func(in *Inputs) cty.Value
}

// Value returns the binding's value for in.
func (b Binding) Value(in *Inputs) cty.Value { return b.value(in) }

func str(f func(in *Inputs) string) func(*Inputs) cty.Value {
	return func(in *Inputs) cty.Value { return cty.StringVal(f(in)) }
}

func num(f func(in *Inputs) int) func(*Inputs) cty.Value {
	return func(in *Inputs) cty.Value { return cty.NumberIntVal(int64(f(in))) }
}

// bindings is the table of SPEC §4, in the order the rendered file lists
// the variables.
var bindings = []Binding{
	{"allocator_ip", FromEnvironment, "ALLOCATOR_PUBLIC_IP", str(func(in *Inputs) string { return in.AllocatorIP })},
	{"allocator_url", FromDerived, "allocator URL (allocurl)", str(func(in *Inputs) string { return in.URL.String() })},
	{"allocator_port", FromDerived, "allocator port (allocurl)", num(func(in *Inputs) int { return in.URL.Port })},
	{"machine_type", FromConfig, "machine.machine_type", str(func(in *Inputs) string { return in.Config.Machine.MachineType })},
	{"image_name", FromConfig, "machine.image", str(func(in *Inputs) string { return in.Config.Machine.Image })},
	{"repository", FromConfig, "machine.repository", str(func(in *Inputs) string { return in.Config.Machine.Repository })},
	{"client_ami_id", FromConfig, "machine.ami_id", str(func(in *Inputs) string { return in.Config.Machine.AMIID })},
	{"subject_software", FromConfig, "machine.software", str(func(in *Inputs) string { return in.Config.Machine.Software })},
	{"resource_suffix", FromEnvironment, "ENVIRONMENT", str(func(in *Inputs) string { return in.Environment })},
	{"gpu_support", FromDerived, "EC2 GPU info of machine.machine_type (gpu)", func(in *Inputs) cty.Value { return cty.BoolVal(in.GPU) }},
	{"cloud_init_output_log_group", FromEnvironment, "CLOUD_INIT_LOG_GROUP", str(func(in *Inputs) string { return in.LogGroup })},
	{"region", FromConfig, "app.region", str(func(in *Inputs) string { return in.Config.App.Region })},
	{"startup_on_error", FromConfig, "startup_script.on_error", str(func(in *Inputs) string { return in.Config.StartupScript.OnError })},
	{"startup_max_attempts", FromConfig, "startup_script.max_attempts", num(func(in *Inputs) int { return in.Config.StartupScript.MaxAttempts })},
	{"startup_base_delay_seconds", FromConfig, "startup_script.base_delay_seconds", num(func(in *Inputs) int { return in.Config.StartupScript.BaseDelaySeconds })},
	// The success check is a shell command; base64 carries it to the VM
	// without any character reaching the shell.
	{"startup_success_check_b64", FromConfig, "startup_script.success_check", str(func(in *Inputs) string {
		return base64.StdEncoding.EncodeToString([]byte(in.Config.StartupScript.SuccessCheck))
	})},
	{"instance_count", FromRequest, "requested + existing VMs", num(func(in *Inputs) int { return in.InstanceCount })},
}

// Bindings returns the binding table: one entry per variable of the client
// module, in rendering order. The slice is a copy.
func Bindings() []Binding {
	return append([]Binding(nil), bindings...)
}

// Order lists the variable names in rendering order.
func Order() []string {
	names := make([]string, len(bindings))
	for i, b := range bindings {
		names[i] = b.Variable
	}
	return names
}

// Values evaluates every binding for in.
func Values(in Inputs) map[string]cty.Value {
	vals := make(map[string]cty.Value, len(bindings))
	for _, b := range bindings {
		vals[b.Variable] = b.value(&in)
	}
	return vals
}

// Expectations returns, for every config-bound variable, the value its
// config field holds in cfg. Verification compares a parsed file against
// these, so a mismatch names both the variable and the field.
func Expectations(cfg lablink.Config) []tfvars.Expectation {
	in := Inputs{Config: cfg}
	return expectations(func(b Binding) cty.Value { return b.value(&in) })
}

// expectations lists the config-bound bindings with the values value
// gives them.
func expectations(value func(Binding) cty.Value) []tfvars.Expectation {
	exp := make([]tfvars.Expectation, 0, len(bindings))
	for _, b := range bindings {
		if b.Kind == FromConfig {
			exp = append(exp, tfvars.Expectation{Variable: b.Variable, Source: b.Source, Value: value(b)})
		}
	}
	return exp
}

// DefaultExpectations is what the module's variables.tf defaults must
// equal: the config-bound variables of lablink.DefaultConfig, and the
// derived values a default config produces (port 443 for the default
// letsencrypt TLS, resource suffix "prod" for the default environment).
func DefaultExpectations() []tfvars.Expectation {
	cfg := lablink.DefaultConfig()
	exp := Expectations(cfg)
	exp = append(exp,
		tfvars.Expectation{Variable: "allocator_port", Source: "allocator port of the default config",
			Value: cty.NumberIntVal(int64(defaultPort(cfg)))},
		tfvars.Expectation{Variable: "resource_suffix", Source: "default ENVIRONMENT",
			Value: cty.StringVal(allocurl.NormalizeEnvironment(""))},
	)
	return exp
}

func defaultPort(cfg lablink.Config) int {
	if allocurl.Scheme(cfg.SSL) == "https" {
		return 443
	}
	return 80
}

// Drift reports where the module's variable defaults disagree with the Go
// config defaults (upstream's module said t2.medium while its config said
// g4dn.xlarge).
func Drift(schema *tfvars.Schema) []tfvars.Drift {
	return schema.Drift(DefaultExpectations())
}

// Sources maps each variable to a description of its source, for the audit
// manifest: "config machine.machine_type", "environment ENVIRONMENT", ...
func Sources() map[string]string {
	m := make(map[string]string, len(bindings))
	for _, b := range bindings {
		m[b.Variable] = fmt.Sprintf("%s %s", b.Kind, b.Source)
	}
	return m
}
