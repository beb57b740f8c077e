package terraform

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/inventory"
)

// mirrorEnv names a filesystem mirror of providers (OpenTofu's
// provider_installation filesystem_mirror) that holds
// registry.terraform.io/hashicorp/aws; TestAWSKeepsLaunchTags needs it and
// is skipped without it, as the tests run offline.
const mirrorEnv = "LABLINK_TF_PLUGIN_MIRROR"

// TestAWSKeepsLaunchTags plans, with the real AWS provider and without
// refreshing (so without AWS), the aws module's instance tags and
// lifecycle, copied from aws/main.tf, over a state of two running VMs: one
// tagged by launch L1, one created before the lablink: tags existed. A
// plan with launch_id L2 changes neither, tags_all included (the provider
// derives it from the configuration after OpenTofu has put the ignored
// keys' prior values back); without the ignore_changes entries it would
// update the first in place.
func TestAWSKeepsLaunchTags(t *testing.T) {
	mirror := os.Getenv(mirrorEnv)
	if mirror == "" {
		t.Skipf("set %s to a provider mirror holding hashicorp/aws", mirrorEnv)
	}
	t.Parallel()
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprintf("ignore_changes %v", keep), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), awsInstanceConfig(t, keep), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "terraform.tfstate"), taggedState(t), 0o644))
			rc := filepath.Join(t.TempDir(), "cli.tfrc")
			require.NoError(t, os.WriteFile(rc, fmt.Appendf(nil, "provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", mirror), 0o644))
			tf := tofutest.New(t, dir)
			env := tofutest.ExecEnv(t)
			env["TF_CLI_CONFIG_FILE"] = rc
			require.NoError(t, tf.SetEnv(env))
			require.NoError(t, tf.Init(t.Context()), "init from %s", mirror)

			plan := filepath.Join(t.TempDir(), "plan")
			_, err := tf.Plan(t.Context(), tfexec.Refresh(false), tfexec.Var("launch_id=L2"), tfexec.Out(plan))
			require.NoError(t, err)
			p, err := tf.ShowPlanFile(t.Context(), plan)
			require.NoError(t, err)
			got := map[string]tfjson.Actions{}
			for _, rc := range p.ResourceChanges {
				got[rc.Address] = rc.Change.Actions
			}
			want := map[string]tfjson.Actions{
				"aws_instance.lablink_vm[0]": {tfjson.ActionNoop},
				"aws_instance.lablink_vm[1]": {tfjson.ActionNoop},
			}
			if !keep {
				want["aws_instance.lablink_vm[0]"] = tfjson.Actions{tfjson.ActionUpdate}
				want["aws_instance.lablink_vm[1]"] = tfjson.Actions{tfjson.ActionUpdate}
			}
			assert.Equal(t, want, got, "a plan with another launch_id")
		})
	}
}

// awsInstanceConfig is a root module holding aws/main.tf's aws_instance
// with its tags and (when keep) its ignore_changes, and a provider that
// asks AWS nothing at plan time.
func awsInstanceConfig(t *testing.T, keep bool) []byte {
	t.Helper()
	src := readModuleFile(t, "aws", "main.tf")
	f, diags := hclwrite.ParseConfig(src, "main.tf", hcl.InitialPos)
	require.False(t, diags.HasErrors(), "%v", diags)
	vm := f.Body().FirstMatchingBlock("resource", []string{"aws_instance", "lablink_vm"})
	require.NotNil(t, vm)
	tags := vm.Body().GetAttribute("tags")
	require.NotNil(t, tags)
	ignore := vm.Body().FirstMatchingBlock("lifecycle", nil).Body().GetAttribute("ignore_changes")
	require.NotNil(t, ignore)
	lifecycle := "lifecycle {\n    " + string(ignore.BuildTokens(nil).Bytes()) + "  }\n"
	if !keep {
		lifecycle = ""
	}
	return fmt.Appendf(nil, `terraform {
  required_providers {
    aws = { source = "registry.terraform.io/hashicorp/aws" }
  }
}

provider "aws" {
  region                      = "us-west-2"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    ec2 = "http://127.0.0.1:9"
  }
  default_tags {
    tags = { Project = "lablink" }
  }
}

variable "launch_id" { type = string }
variable "resource_prefix" { default = "p" }

resource "aws_instance" "lablink_vm" {
  count         = 2
  ami           = "ami-00c257e12d6828491"
  instance_type = "t3.medium"
  %s
  %s}
`, tags.BuildTokens(nil).Bytes(), lifecycle)
}

// taggedState is a state of two running instances: VM 1 tagged by launch
// L1, VM 2 with its Name only.
func taggedState(t *testing.T) []byte {
	t.Helper()
	instance := func(i int, tags map[string]string) map[string]any {
		all := map[string]string{"Project": "lablink"}
		for k, v := range tags {
			all[k] = v
		}
		return map[string]any{"index_key": i, "schema_version": 1, "sensitive_attributes": []any{}, "attributes": map[string]any{
			"id": fmt.Sprintf("i-0000000000000000%d", i), "arn": "arn:aws:ec2:us-west-2:123456789012:instance/i-0",
			"ami": "ami-00c257e12d6828491", "instance_type": "t3.medium", "tags": tags, "tags_all": all,
			"availability_zone": "us-west-2a", "subnet_id": "subnet-0123456789abcdef0", "private_ip": "10.0.0.5",
			"vpc_security_group_ids": []string{"sg-0123456789abcdef0"}, "security_groups": []string{},
			"ipv6_addresses": []string{}, "ipv6_address_count": 0, "secondary_private_ips": []string{},
			"key_name": "", "placement_group": "", "host_id": "", "tenancy": "default", "instance_state": "running",
			"primary_network_interface_id": "eni-0123456789abcdef0", "cpu_core_count": 2, "cpu_threads_per_core": 2,
			"source_dest_check": true, "get_password_data": false, "disable_api_termination": false, "disable_api_stop": false,
			"monitoring": false, "instance_initiated_shutdown_behavior": "stop", "ebs_optimized": false, "hibernation": false,
			"associate_public_ip_address": true, "user_data_replace_on_change": false,
		}}
	}
	st := map[string]any{"version": 4, "terraform_version": "1.12.6", "serial": 1, "lineage": "6f6e0a57-5b0c-4a57-9d1c-1a2b3c4d5e6f",
		"outputs": map[string]any{}, "resources": []any{map[string]any{
			"mode": "managed", "type": "aws_instance", "name": "lablink_vm",
			"provider": `provider["registry.terraform.io/hashicorp/aws"]`,
			"instances": []any{
				instance(0, map[string]string{inventory.TagName: "p-vm-1", inventory.TagDeployment: "p", inventory.TagLaunchID: "L1"}),
				instance(1, map[string]string{inventory.TagName: "p-vm-2"}),
			},
		}}}
	data, err := json.Marshal(st)
	require.NoError(t, err)
	return data
}
