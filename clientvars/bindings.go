package clientvars

import (
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"sort"

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
	// FromDerived: computed at run time (allocator URL and port, GPU
	// support, resource prefix).
	FromDerived Kind = "derived"
	// FromEnvironment: the allocator's process environment or a flag.
	FromEnvironment Kind = "environment"
	// FromSecret: a token the allocator and its VMs share (see Tokens).
	FromSecret Kind = "secret"
	// FromRequest: the launch request (instance_count).
	FromRequest Kind = "request"
	// FromModuleDefault: lablink sets nothing; the module's default holds.
	FromModuleDefault Kind = "module default"
	// Unbound: the module requires the variable and lablink knows no
	// source for it; rendering fails.
	Unbound Kind = "unbound"
)

// Inputs is everything the binding table reads: the config and the values
// that exist only at run time. Resolve builds it from a config and an Env.
type Inputs struct {
	Config lablink.Config
	// ConfigDir is the directory a relative startup_script.path is
	// resolved against; "" means the current directory.
	ConfigDir string
	// AllocatorIP is the allocator's public IP (ALLOCATOR_PUBLIC_IP).
	AllocatorIP string
	// Environment is the normalized environment name (ENVIRONMENT, else
	// the config's environment, else "prod").
	Environment string
	// LogGroup is the CloudWatch log group for cloud-init output
	// (CLOUD_INIT_LOG_GROUP), "" for none.
	LogGroup string
	// URL is the allocator URL (see allocurl.Derive).
	URL allocurl.URL
	// GPU reports whether machine.machine_type has NVIDIA GPUs.
	GPU bool
	// AllocatorSGID is the allocator's security group (ALLOCATOR_SG_ID,
	// or instance metadata on EC2); "" when unknown.
	AllocatorSGID string
	// Tokens are the agent and register tokens.
	Tokens Tokens
	// InstanceCount is requested plus already running VMs.
	InstanceCount int
	// LaunchID names the launch applying the module; each VM keeps the
	// one that created it (as a tag on EC2). "" leaves the module's default.
	LaunchID string
	// InventoryDir is where the provider-free local module records each
	// VM it creates, standing in for the cloud's inventory
	// (LABLINK_INVENTORY_DIR); "" for none.
	InventoryDir string
}

// encoding says how a config value is carried in its variable.
type encoding int

const (
	plain      encoding = iota
	base64Enc           // the variable holds the base64 of the config string
	absPathEnc          // the variable holds the config path made absolute
)

// binding maps one module variable to its source. For FromConfig, from is
// the YAML path whose value (after enc) the variable must hold; the check
// reads it with lablink.Config.Field, not through value, so a binding that
// alters a value cannot pass verification.
type binding struct {
	variable string
	kind     Kind
	from     string
	enc      encoding
	// hint says how to supply a missing value; "" when it cannot be
	// missing.
	hint string
	// value returns the variable's value, or false when there is none and
	// the module's default must hold.
	value func(in *Inputs) (cty.Value, bool)
}

func str(f func(in *Inputs) string) func(*Inputs) (cty.Value, bool) {
	return func(in *Inputs) (cty.Value, bool) { return cty.StringVal(f(in)), true }
}

func num(f func(in *Inputs) int) func(*Inputs) (cty.Value, bool) {
	return func(in *Inputs) (cty.Value, bool) { return cty.NumberIntVal(int64(f(in))), true }
}

// optional is str for a value that may be absent ("").
func optional(f func(in *Inputs) string) func(*Inputs) (cty.Value, bool) {
	return func(in *Inputs) (cty.Value, bool) {
		s := f(in)
		return cty.StringVal(s), s != ""
	}
}

// bindings covers the variables of every generation of the client module:
// ours, upstream's of November 2025 (resource_suffix) and of August 2026
// (resource_prefix, tokens, allocator_sg_id, custom_startup_script_path).
// Only the variables a module declares are rendered, in this order.
var bindings = []binding{
	{"allocator_ip", FromEnvironment, "ALLOCATOR_PUBLIC_IP", plain, "", str(func(in *Inputs) string { return in.AllocatorIP })},
	{"allocator_url", FromDerived, "allocator URL (allocurl)", plain, "", str(func(in *Inputs) string { return in.URL.String() })},
	{"allocator_port", FromDerived, "allocator port (allocurl)", plain, "", num(func(in *Inputs) int { return in.URL.Port })},
	{"machine_type", FromConfig, "machine.machine_type", plain, "", str(func(in *Inputs) string { return in.Config.Machine.MachineType })},
	{"image_name", FromConfig, "machine.image", plain, "", str(func(in *Inputs) string { return in.Config.Machine.Image })},
	{"repository", FromConfig, "machine.repository", plain, "", str(func(in *Inputs) string { return in.Config.Machine.Repository })},
	{"client_ami_id", FromConfig, "machine.ami_id", plain, "", str(func(in *Inputs) string { return in.Config.Machine.AMIID })},
	{"subject_software", FromConfig, "machine.software", plain, "", str(func(in *Inputs) string { return in.Config.Machine.Software })},
	{"resource_prefix", FromDerived, "{machine.software}-lablink-client-{environment}", plain, "", str(func(in *Inputs) string {
		return in.Config.ResourcePrefix(in.Environment)
	})},
	{"resource_suffix", FromEnvironment, "ENVIRONMENT (else config environment)", plain, "", str(func(in *Inputs) string { return in.Environment })},
	{"gpu_support", FromDerived, "EC2 GPU info of machine.machine_type (gpu)", plain, "", func(in *Inputs) (cty.Value, bool) { return cty.BoolVal(in.GPU), true }},
	{"cloud_init_output_log_group", FromEnvironment, "CLOUD_INIT_LOG_GROUP", plain, "", str(func(in *Inputs) string { return in.LogGroup })},
	{"region", FromConfig, "app.region", plain, "", str(func(in *Inputs) string { return in.Config.App.Region })},
	{"startup_on_error", FromConfig, "startup_script.on_error", plain, "", str(func(in *Inputs) string { return in.Config.StartupScript.OnError })},
	{"startup_max_attempts", FromConfig, "startup_script.max_attempts", plain, "", num(func(in *Inputs) int { return in.Config.StartupScript.MaxAttempts })},
	{"startup_base_delay_seconds", FromConfig, "startup_script.base_delay_seconds", plain, "", num(func(in *Inputs) int { return in.Config.StartupScript.BaseDelaySeconds })},
	// The success check is a shell command; base64 carries it to the VM
	// without any character reaching the shell.
	{"startup_success_check_b64", FromConfig, "startup_script.success_check", base64Enc, "", str(func(in *Inputs) string {
		return base64.StdEncoding.EncodeToString([]byte(in.Config.StartupScript.SuccessCheck))
	})},
	// OpenTofu reads the script at plan time, from the working directory,
	// so the path is made absolute. A disabled script leaves the module's
	// default, as upstream does.
	{"custom_startup_script_path", FromConfig, "startup_script.path", absPathEnc, "", optional(func(in *Inputs) string {
		if !in.Config.StartupScript.Enabled {
			return ""
		}
		return absPath(in.ConfigDir, in.Config.StartupScript.Path)
	})},
	{"agent_token", FromSecret, "LABLINK_AGENT_TOKEN (else kept in the working directory)", plain,
		"set LABLINK_AGENT_TOKEN or give a working directory", optional(func(in *Inputs) string { return in.Tokens.Agent })},
	{"register_token", FromSecret, "LABLINK_REGISTER_TOKEN (else kept in the working directory)", plain,
		"set LABLINK_REGISTER_TOKEN or give a working directory", optional(func(in *Inputs) string { return in.Tokens.Register })},
	{"allocator_sg_id", FromEnvironment, "ALLOCATOR_SG_ID (else instance metadata)", plain,
		"set ALLOCATOR_SG_ID (the CLI's --allocator-sg-id) to the allocator's security group; on EC2 it is read from instance metadata",
		optional(func(in *Inputs) string { return in.AllocatorSGID })},
	{"instance_count", FromRequest, "requested + existing VMs", plain, "", num(func(in *Inputs) int { return in.InstanceCount })},
	{"launch_id", FromRequest, "the launch applying the module", plain, "", optional(func(in *Inputs) string { return in.LaunchID })},
	{"inventory_dir", FromEnvironment, "LABLINK_INVENTORY_DIR", plain, "", optional(func(in *Inputs) string { return in.InventoryDir })},
}

// absPath resolves p against dir unless it is absolute.
func absPath(dir, p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

func bindingOf(name string) (binding, bool) {
	for _, b := range bindings {
		if b.variable == name {
			return b, true
		}
	}
	return binding{}, false
}

// order lists the variable names in rendering order.
func order() []string {
	names := make([]string, len(bindings))
	for i, b := range bindings {
		names[i] = b.variable
	}
	return names
}

// values evaluates the bindings of the variables schema declares. A
// variable without a value keeps its module default; when the module
// requires it, the error names what would supply it. Every missing
// variable is reported at once.
func values(schema *tfvars.Schema, in *Inputs) (map[string]cty.Value, error) {
	vals := make(map[string]cty.Value, len(bindings))
	var errs []error
	for _, v := range schema.Variables() {
		b, ok := bindingOf(v.Name)
		if !ok {
			if v.Required() {
				errs = append(errs, &tfvars.VariableError{Name: v.Name, Err: errors.New("required by the module, and lablink knows no source for it")})
			}
			continue
		}
		val, ok := b.value(in)
		if !ok {
			if v.Required() {
				errs = append(errs, &tfvars.VariableError{Name: v.Name, Err: fmt.Errorf("required by the module and not set: %s", b.hint)})
			}
			continue
		}
		vals[v.Name] = val
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return vals, errors.Join(errs...)
}

// expectations returns, for every config-bound variable in vals, the value
// it must hold, read from in.Config by its YAML path, independently of
// the binding's own value function; and for resource_prefix, its rule.
func expectations(in *Inputs, vals map[string]cty.Value) []tfvars.Expectation {
	var exp []tfvars.Expectation
	for _, b := range bindings {
		if _, rendered := vals[b.variable]; !rendered {
			continue
		}
		switch {
		case b.kind == FromConfig:
			if e, ok := configExpectation(in.Config, in.ConfigDir, b); ok {
				exp = append(exp, e)
			}
		case b.variable == "resource_prefix":
			sw, _ := in.Config.Field("machine.software")
			s, _ := sw.(string)
			exp = append(exp, tfvars.Expectation{Variable: b.variable, Source: "machine.software + environment",
				Value: cty.StringVal(s + "-lablink-client-" + in.Environment)})
		}
	}
	return exp
}

// configExpectation reads b's config field by its YAML path and encodes
// it as the variable carries it.
func configExpectation(cfg lablink.Config, dir string, b binding) (tfvars.Expectation, bool) {
	raw, ok := cfg.Field(b.from)
	if !ok {
		return tfvars.Expectation{}, false
	}
	e := tfvars.Expectation{Variable: b.variable, Source: b.from}
	switch v := raw.(type) {
	case string:
		switch b.enc {
		case base64Enc:
			e.Source = "base64 of " + b.from
			v = base64.StdEncoding.EncodeToString([]byte(v))
		case absPathEnc:
			e.Source = b.from + " (absolute)"
			v = absPath(dir, v)
		}
		e.Value = cty.StringVal(v)
	case int:
		e.Value = cty.NumberIntVal(int64(v))
	case bool:
		e.Value = cty.BoolVal(v)
	default:
		return tfvars.Expectation{}, false
	}
	return e, true
}

// defaultExpectations is what the module's variables.tf defaults must
// equal: the config-bound variables of lablink.DefaultConfig, and the
// derived values a default config produces (port 443 for the default
// letsencrypt TLS, environment "prod").
func defaultExpectations() []tfvars.Expectation {
	cfg := lablink.DefaultConfig()
	env := cfg.EnvironmentName("")
	var exp []tfvars.Expectation
	for _, b := range bindings {
		if b.kind == FromConfig && b.enc != absPathEnc {
			if e, ok := configExpectation(cfg, "", b); ok {
				exp = append(exp, e)
			}
		}
	}
	return append(exp,
		tfvars.Expectation{Variable: "allocator_port", Source: "allocator port of the default config",
			Value: cty.NumberIntVal(int64(defaultPort(cfg)))},
		tfvars.Expectation{Variable: "resource_suffix", Source: "default environment",
			Value: cty.StringVal(env)},
		tfvars.Expectation{Variable: "resource_prefix", Source: "resource prefix of the default config",
			Value: cty.StringVal(cfg.ResourcePrefix(env))},
	)
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
	return schema.Drift(defaultExpectations())
}

// Source says where one variable of a module gets its value.
type Source struct {
	Variable string
	Kind     Kind
	// From names the origin: a YAML path for FromConfig, an environment
	// variable for FromEnvironment, a description otherwise; "" for
	// FromModuleDefault and Unbound.
	From string
	// Required reports that the module declares no default.
	Required bool
	// Default is the module's default, cty.NilVal when Required.
	Default cty.Value
	// Drift is the disagreement of Default with the Go config default, or
	// "" when they agree or there is nothing to compare.
	Drift string
}

// Sources lists every variable of the module, in the module's order, with
// where its value comes from: what a rendered file will hold, and what it
// leaves to the module.
func Sources(schema *tfvars.Schema) []Source {
	drift := map[string]string{}
	for _, d := range Drift(schema) {
		drift[d.Variable] = d.String()
	}
	var out []Source
	for _, v := range schema.Variables() {
		s := Source{Variable: v.Name, Required: v.Required(), Default: v.Default, Drift: drift[v.Name]}
		if b, ok := bindingOf(v.Name); ok {
			s.Kind, s.From = b.kind, b.from
		} else if v.Required() {
			s.Kind = Unbound
		} else {
			s.Kind = FromModuleDefault
		}
		out = append(out, s)
	}
	return out
}

// sources maps each rendered variable to a description of its source, for
// the audit manifest: "config machine.machine_type", ...
func sources(vals map[string]cty.Value) map[string]string {
	m := make(map[string]string, len(vals))
	for _, b := range bindings {
		if _, ok := vals[b.variable]; ok {
			m[b.variable] = fmt.Sprintf("%s %s", b.kind, b.from)
		}
	}
	return m
}
