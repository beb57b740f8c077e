package clientvars

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/allocurl"
	"github.com/lablink-go/lablink/ec2meta"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/tfvars"
)

// Env holds the run-time inputs the allocator takes from its process
// environment (or the flags that stand for it). Each field is named after
// its variable.
type Env struct {
	AllocatorIP string // ALLOCATOR_PUBLIC_IP
	// Environment is ENVIRONMENT; "" means the config's environment key,
	// else "prod".
	Environment string
	FQDN        string // ALLOCATOR_FQDN; "" means no override
	LogGroup    string // CLOUD_INIT_LOG_GROUP; "" means none
	// AllocatorSGID is ALLOCATOR_SG_ID, the allocator's own security
	// group; "" means unknown (see SecurityGroupFromIMDS).
	AllocatorSGID string
	// AgentToken and RegisterToken are LABLINK_AGENT_TOKEN and
	// LABLINK_REGISTER_TOKEN; "" means the tokens kept in the working
	// directory (see WorkdirTokens).
	AgentToken    string
	RegisterToken string
	// InventoryDir is LABLINK_INVENTORY_DIR: where the provider-free
	// local module records the VMs it creates; "" means nowhere.
	InventoryDir string
	// ConfigDir is not an environment variable: the directory of the
	// config file, against which a relative startup_script.path is
	// resolved; "" means the current directory.
	ConfigDir string
}

// EnvFrom reads an Env through getenv (os.Getenv in production).
func EnvFrom(getenv func(string) string) Env {
	return Env{
		AllocatorIP:   getenv("ALLOCATOR_PUBLIC_IP"),
		Environment:   getenv("ENVIRONMENT"),
		FQDN:          getenv("ALLOCATOR_FQDN"),
		LogGroup:      getenv("CLOUD_INIT_LOG_GROUP"),
		AllocatorSGID: getenv("ALLOCATOR_SG_ID"),
		AgentToken:    getenv("LABLINK_AGENT_TOKEN"),
		RegisterToken: getenv("LABLINK_REGISTER_TOKEN"),
		InventoryDir:  getenv("LABLINK_INVENTORY_DIR"),
	}
}

// sgFormat is an EC2 security group id.
var sgFormat = regexp.MustCompile(`^sg-([0-9a-f]{8}|[0-9a-f]{17})$`)

// GPUDetector answers whether an instance type has GPUs. *gpu.Detector
// (asking EC2) and gpu.Catalog (offline) satisfy it.
type GPUDetector interface {
	Detect(ctx context.Context, instanceType string) (gpu.Info, error)
}

// Resolve is CheckInputs followed by the GPU answer for
// machine.machine_type: it validates cfg and env and computes the run-time
// values. An error of gpus is returned as it is: a GPU lookup failure is
// an error, never "no GPU", and since CheckInputs asks nobody, an error
// after its checks passed is the detector's. InstanceCount is left 0 for
// the caller to set.
func Resolve(ctx context.Context, cfg lablink.Config, env Env, gpus GPUDetector) (Inputs, gpu.Info, error) {
	in, err := CheckInputs(cfg, env)
	if err != nil {
		return Inputs{}, gpu.Info{}, err
	}
	info, err := gpus.Detect(ctx, cfg.Machine.MachineType)
	if err != nil {
		return Inputs{}, gpu.Info{}, err
	}
	in.GPU = info.HasNVIDIA()
	return in, info, nil
}

// CheckInputs runs the checks of Resolve that need no network: every
// problem of cfg at once, each naming its YAML path, and of env, each
// naming its environment variable. It returns the run-time values but the
// GPU answer. An adapter calls it before it writes anything.
func CheckInputs(cfg lablink.Config, env Env) (Inputs, error) {
	if err := cfg.Validate(); err != nil {
		return Inputs{}, fmt.Errorf("invalid config:\n%w", err)
	}
	in := Inputs{
		Config:        cfg,
		ConfigDir:     env.ConfigDir,
		Environment:   cfg.EnvironmentName(env.Environment),
		AllocatorSGID: env.AllocatorSGID,
		Tokens:        Tokens{Agent: env.AgentToken, Register: env.RegisterToken},
	}
	if env.InventoryDir != "" {
		// OpenTofu runs in the module's directory: a relative path would
		// mean another place there.
		in.InventoryDir = absPath("", env.InventoryDir)
	}
	var errs []error
	ip := strings.TrimSpace(env.AllocatorIP)
	switch addr, err := netip.ParseAddr(ip); {
	case ip == "":
		errs = append(errs, errors.New("ALLOCATOR_PUBLIC_IP is not set; the client VMs need the allocator's public IP"))
	case err != nil || addr.Zone() != "":
		errs = append(errs, fmt.Errorf("ALLOCATOR_PUBLIC_IP: %q is not an IP address", env.AllocatorIP))
	default:
		in.AllocatorIP = addr.String()
	}
	if err := lablink.ValidateEnvironment(in.Environment); err != nil {
		errs = append(errs, fmt.Errorf("ENVIRONMENT: %w", err))
	}
	if env.AllocatorSGID != "" && !sgFormat.MatchString(env.AllocatorSGID) {
		errs = append(errs, fmt.Errorf("ALLOCATOR_SG_ID: %q is not a security group id such as sg-0123456789abcdef0", env.AllocatorSGID))
	}
	errs = append(errs, checkToken("LABLINK_AGENT_TOKEN", env.AgentToken), checkToken("LABLINK_REGISTER_TOKEN", env.RegisterToken))
	errs = append(errs, checkStartupScript(cfg.StartupScript, env.ConfigDir))
	if err := lablink.ValidateLogGroup(env.LogGroup); err != nil {
		errs = append(errs, fmt.Errorf("CLOUD_INIT_LOG_GROUP: %w", err))
	}
	in.LogGroup = env.LogGroup
	u, err := allocurl.Derive(cfg, allocurl.Input{AllocatorIP: ip, Environment: in.Environment, FQDN: env.FQDN})
	// A bad IP is reported above, by the name of its variable; Derive's
	// own complaint about it would say the same again.
	if err != nil && !(in.AllocatorIP == "" && (errors.Is(err, allocurl.ErrInvalidIP) || errors.Is(err, allocurl.ErrNoHost))) {
		errs = append(errs, err)
	}
	in.URL = u
	if err := errors.Join(errs...); err != nil {
		return Inputs{}, err
	}
	return in, nil
}

// Rendered is a verified runtime tfvars file.
type Rendered struct {
	Data   []byte
	Format tfvars.Format
	Values map[string]cty.Value
	// SHA256 is the hex digest of Data.
	SHA256 string
}

// Origin says where one rendered variable came from.
type Origin struct {
	Variable string
	// Source describes it: "config machine.machine_type", "environment
	// ALLOCATOR_PUBLIC_IP", ...
	Source string
}

// Origins lists the variables of r in the file's order, each with where
// its value came from, for an audit record.
func (r Rendered) Origins() []Origin {
	src := sources(r.Values)
	var out []Origin
	for _, name := range order() {
		if s, ok := src[name]; ok {
			out = append(out, Origin{Variable: name, Source: s})
		}
	}
	return out
}

// Redacted renders r again with the sensitive variables of schema
// replaced (tfvars.Schema.Redact), for a copy that may be stored where
// the tokens must not go, and returns the names it redacted. Nothing
// sensitive: r's own bytes.
func (r Rendered) Redacted(schema *tfvars.Schema) ([]byte, []string, error) {
	red, names := schema.Redact(r.Values)
	if len(names) == 0 {
		return r.Data, nil, nil
	}
	data, err := tfvars.Render(red, &tfvars.Options{Format: r.Format, Order: order(), Header: header + "\nRedacted: " + strings.Join(names, ", ")})
	return data, names, err
}

// header tops every rendered HCL file.
const header = `Generated by lablink from config.yaml; edit config.yaml, not this file.
Every value here is checked against config.yaml and the module's variables.tf.`

// Render evaluates the binding table for the variables the module
// declares (a declared variable lablink has no value for keeps its module
// default; a required one is an error naming what would supply it),
// checks the values against the module schema, renders them, parses the
// bytes back and verifies them: the file must hold exactly the rendered
// values, and every config-bound variable must equal its config field,
// read by its YAML path (`machine_type = "x" but machine.machine_type =
// "y"`). Nothing is written anywhere.
func Render(schema *tfvars.Schema, in Inputs, format tfvars.Format) (Rendered, error) {
	vals, err := values(schema, &in)
	if err != nil {
		return Rendered{}, fmt.Errorf("bind module variables:\n%w", err)
	}
	if err := schema.Check(vals); err != nil {
		return Rendered{}, fmt.Errorf("check tfvars against variables.tf:\n%w", err)
	}
	data, err := tfvars.Render(vals, &tfvars.Options{Format: format, Order: order(), Header: header})
	if err != nil {
		return Rendered{}, fmt.Errorf("render tfvars: %w", err)
	}
	if err := verify(data, format, &in, vals); err != nil {
		return Rendered{}, err
	}
	sum := sha256.Sum256(data)
	return Rendered{Data: data, Format: format, Values: vals, SHA256: hex.EncodeToString(sum[:])}, nil
}

// verify parses data back and requires the config-bound variables to
// equal their config fields (their mismatches come first and name the
// config field rather than just the wanted value), and every variable to
// equal vals.
func verify(data []byte, format tfvars.Format, in *Inputs, vals map[string]cty.Value) error {
	return tfvars.Verify(data, format, vals, expectations(in, vals))
}

// DiscoverSecurityGroup fills env.AllocatorSGID from the instance
// metadata of the EC2 instance the allocator runs on, as upstream does,
// when it is unset and the module declares allocator_sg_id. Off EC2
// (ec2meta.ErrNotOnEC2) env is returned unchanged: Render then names the
// flag and variable that would supply the group. A nil client means
// ec2meta.NewClient().
func DiscoverSecurityGroup(ctx context.Context, env Env, schema *tfvars.Schema, c ec2meta.GetMetadataAPIClient) (Env, error) {
	if env.AllocatorSGID != "" {
		return env, nil
	}
	if _, declared := schema.Lookup("allocator_sg_id"); !declared {
		return env, nil
	}
	sg, err := ec2meta.SecurityGroup(ctx, c)
	switch {
	case errors.Is(err, ec2meta.ErrNotOnEC2) && ctx.Err() == nil:
		return env, nil
	case err != nil:
		return env, fmt.Errorf("allocator security group from instance metadata: %w", err)
	}
	env.AllocatorSGID = sg
	return env, nil
}

// checkStartupScript checks, for an enabled startup script, that its file
// is there: OpenTofu reads it at plan time, and a module that fails closed
// would refuse every launch otherwise, long after the allocator started.
func checkStartupScript(s lablink.StartupScript, dir string) error {
	if !s.Enabled {
		return nil
	}
	p := absPath(dir, s.Path)
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return &lablink.FieldError{Path: "startup_script.path", Err: fmt.Errorf("%w: %w", lablink.ErrInvalidValue, err)}
	case !fi.Mode().IsRegular():
		return &lablink.FieldError{Path: "startup_script.path", Err: fmt.Errorf("%w: %s is not a regular file", lablink.ErrInvalidValue, p)}
	}
	return nil
}
