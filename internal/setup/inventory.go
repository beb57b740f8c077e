package setup

import (
	"bytes"
	"context"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/inventory"
	"github.com/lablink-go/lablink/launcher"
)

// Inventory chooses where the adapters learn which client VMs the cloud
// holds, for the launcher's orphan report (launcher.Options.Inventory):
// the local module's records when LABLINK_INVENTORY_DIR is set
// (env.InventoryDir); EC2, by the deployment's tag, for the aws module
// (module "aws", or a workdir whose module creates aws_instance.lablink_vm)
// when AWS credentials are found; else none (nil). An error says why there
// is none, for a warning.
func Inventory(ctx context.Context, module, workdir string, cfg lablink.Config, env clientvars.Env, a *AWS) (launcher.Inventory, error) {
	prefix := cfg.ResourcePrefix(cfg.EnvironmentName(env.Environment))
	if env.InventoryDir != "" {
		dir, err := filepath.Abs(env.InventoryDir)
		if err != nil {
			return nil, err
		}
		return inventory.NewDir(dir, prefix), nil
	}
	if module != "aws" && !createsEC2(workdir) {
		return nil, nil
	}
	awsCfg, err := a.Credentials(ctx)
	if err != nil {
		return nil, err
	}
	return inventory.NewEC2(ec2.NewFromConfig(awsCfg), prefix, &inventory.EC2Options{Region: cfg.App.Region}), nil
}

// createsEC2 reports whether the module in dir declares the aws client
// module's instances.
func createsEC2(dir string) bool {
	names, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil && bytes.Contains(b, []byte(`resource "aws_instance" "lablink_vm"`)) {
			return true
		}
	}
	return false
}
