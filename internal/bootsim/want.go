package bootsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Tripped returns the calls of tripwire commands, in order.
func (b *Boot) Tripped() []Call {
	var out []Call
	for _, c := range b.Calls {
		if slices.Contains(Tripwires, c.Cmd) {
			out = append(out, c)
		}
	}
	return out
}

// CheckTripwires returns a *TripwireError listing the tripwire calls, or
// nil when there were none.
func (b *Boot) CheckTripwires() error {
	if t := b.Tripped(); len(t) > 0 {
		return &TripwireError{Calls: t}
	}
	return nil
}

// TripwireError reports calls of tripwire commands.
type TripwireError struct {
	Calls []Call
}

func (e *TripwireError) Error() string {
	var b strings.Builder
	b.WriteString("bootsim: the boot called tripwire commands:")
	for _, c := range e.Calls {
		fmt.Fprintf(&b, " %s %q;", c.Cmd, c.Args)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// EnvNames are the names the boot script writes into the client
// container's env file: those the client image's start.sh reads (the -e
// names of upstream's user_data.sh) and ALLOCATOR_PORT, the port of
// ALLOCATOR_URL (the client module's allocator_port).
func EnvNames() []string {
	return []string{
		"ALLOCATOR_HOST", "ALLOCATOR_URL", "ALLOCATOR_PORT", "TUTORIAL_REPO_TO_CLONE", "VM_NAME",
		"SUBJECT_SOFTWARE", "STARTUP_ON_ERROR", "STARTUP_MAX_ATTEMPTS",
		"STARTUP_BASE_DELAY_SECONDS", "STARTUP_SUCCESS_CHECK_B64", "AGENT_TOKEN",
		"CLIENT_SECRET", "REGISTER_RESPONSE",
	}
}

// Want describes a boot for [Boot.WantCalls] in terms of the module's
// variables.
type Want struct {
	// LogGroup is whether cloud_init_output_log_group is set.
	LogGroup bool
	// AllocatorURL is allocator_url.
	AllocatorURL string
	// RegisterToken is register_token.
	RegisterToken string
	// VMName is {resource_prefix}-vm-{i}.
	VMName string
	// GPU is gpu_support. The container gets the GPU only when the boot's
	// Options.NvidiaSMI is set too.
	GPU bool
	// Image is image_name.
	Image string
}

// WantCalls are the exact commands the client module's boot script runs
// for w, given b.Options: a warm reboot (Options.ExistingContainer) stops
// after the container check; a first boot reads IMDS, registers, and
// starts the container.
func (b *Boot) WantCalls(w Want) []Call {
	var calls []Call
	add := func(cmd string, args ...string) { calls = append(calls, Call{Cmd: cmd, Args: args}) }
	if w.LogGroup {
		add("systemctl", "restart", "amazon-cloudwatch-agent")
	}
	add("docker", "info")
	add("docker", "container", "inspect", "lablink-client")
	if b.Options.ExistingContainer {
		return calls
	}
	curl := []string{"-q", "-fsS", "--max-time", "5", "--retry", "5"}
	add("curl", append(slices.Clone(curl), "-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 300", "--url", IMDSTokenURL)...)
	for _, u := range []string{IMDSInstanceIDURL, IMDSLocalIPv4URL} {
		add("curl", append(slices.Clone(curl), "-H", "X-aws-ec2-metadata-token: "+b.Options.IMDSToken, "--url", u)...)
	}
	calls = append(calls, Call{
		Cmd: "curl",
		Args: []string{"-q", "-fsS", "--max-time", "30", "--retry", "5", "--retry-connrefused",
			"-H", "@-", "-H", "Content-Type: application/json",
			"--url", strings.TrimSuffix(w.AllocatorURL, "/") + RegisterPath,
			"--data-binary", RegisterBody(w.VMName, b.Options.InstanceID, b.Options.PrivateIP)},
		Files: map[string]string{"-": "Authorization: Bearer " + w.RegisterToken + "\n"},
	})
	gpu := w.GPU && b.Options.NvidiaSMI
	if gpu {
		add("systemctl", "restart", "docker")
		add("docker", "info")
		add("nvidia-smi", "-pm", "1")
	}
	add("docker", "pull", "--", w.Image)
	run := []string{"run", "-dit", "--restart", "unless-stopped", "--name", "lablink-client",
		"--env-file", b.EnvPath(),
		"--mount", "type=bind,src=" + b.ConfigDir() + ",dst=/docker_scripts/,ro",
		"--network", "host"}
	if gpu {
		run = append(run, "--runtime=nvidia", "--gpus", "all")
	}
	add("docker", append(run, "--", w.Image)...)
	return calls
}

// RegisterBody is the JSON body of the registration request, byte for
// byte as the script builds it: the hostname JSON-encoded as OpenTofu's
// jsonencode does (Go's encoding/json, HTML characters escaped).
func RegisterBody(hostname, instanceID, privateIP string) string {
	h, _ := json.Marshal(hostname) // a string always marshals
	return fmt.Sprintf(`{"hostname":%s,"machine_identity":"%s","provider":"aws","endpoint_url":"ws://%s:6080","provider_metadata":{"private_ip":"%s","instance_id":"%s"}}`,
		h, instanceID, privateIP, privateIP, instanceID)
}

// TemplateString is v as OpenTofu's template interpolation prints it: a
// string as it is, a bool as true or false, a number in decimal.
func TemplateString(v cty.Value) string {
	switch v.Type() {
	case cty.String:
		return v.AsString()
	case cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	}
	return v.AsBigFloat().Text('f', -1)
}
