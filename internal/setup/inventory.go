package setup

import (
	"context"
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
// when AWS credentials are found; else none (nil), and the second result
// says why, for a warning.
func Inventory(ctx context.Context, module string, cfg lablink.Config, env clientvars.Env, a *AWS) (launcher.Inventory, error) {
	prefix := cfg.ResourcePrefix(cfg.EnvironmentName(env.Environment))
	if env.InventoryDir != "" {
		dir, err := filepath.Abs(env.InventoryDir)
		if err != nil {
			return nil, err
		}
		return inventory.NewDir(dir, prefix), nil
	}
	if module != "aws" {
		return nil, nil
	}
	awsCfg, err := a.Credentials(ctx)
	if err != nil {
		return nil, err
	}
	return inventory.NewEC2(ec2.NewFromConfig(awsCfg), prefix, &inventory.EC2Options{Region: cfg.App.Region}), nil
}
