package setup

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfstate"
)

// State holds the flags, shared by the CLI and the HTTP server, that
// choose where OpenTofu keeps the client VMs' state and bound the
// requests. The zero value is the defaults: the module's own backend and
// the launcher's MaxCount.
type State struct {
	// Spec is --state: "" keeps the module's backend; local, s3 or
	// s3://BUCKET/KEY as tfstate.Parse reads them.
	Spec      string
	PathStyle bool
	NotAWS    bool
	LockTable string
	MaxCount  int
}

// Register defines the flags on set.
func (f *State) Register(set *flag.FlagSet) {
	set.StringVar(&f.Spec, "state", "", "where OpenTofu keeps the state: local (the workdir), s3 (upstream's "+
		"bucket_name and {deployment_name}/{environment}/client/terraform.tfstate, region app.region) or "+
		"s3://BUCKET/KEY; S3 endpoint and credentials come from the AWS SDK's chain (AWS_ENDPOINT_URL_S3) "+
		"(default: the module's own backend)")
	set.BoolVar(&f.PathStyle, "state-path-style", false, "address the S3 state's bucket in the path, as MinIO needs")
	set.BoolVar(&f.NotAWS, "state-not-aws", false, "the S3 state is on an S3-compatible server, not AWS: "+
		"skip the checks only AWS answers (STS credentials, account id, region name, instance metadata)")
	set.StringVar(&f.LockTable, "state-lock-table", "", "lock the S3 state with this DynamoDB table as well, "+
		"as upstream's existing deployments do")
	set.IntVar(&f.MaxCount, "max-count", 0, "the most VMs one request may ask for, and one apply add "+
		"(default: the launcher's, "+strconv.Itoa(DefaultMaxCount)+")")
}

// Check validates the flags on their own; the config is not loaded yet.
func (f State) Check() error {
	var errs []error
	b, err := tfstate.Parse(f.Spec, lablink.Config{}, "prod")
	if err != nil {
		errs = append(errs, fmt.Errorf("--state: %w", err))
	} else if b.S3 == nil {
		for _, fl := range []struct {
			name string
			set  bool
		}{{"--state-path-style", f.PathStyle}, {"--state-not-aws", f.NotAWS}, {"--state-lock-table", f.LockTable != ""}} {
			if fl.set {
				errs = append(errs, fmt.Errorf("%s needs an S3 state (--state s3 or s3://BUCKET/KEY)", fl.name))
			}
		}
	}
	if f.MaxCount < 0 {
		errs = append(errs, errors.New("--max-count must not be negative"))
	}
	return errors.Join(errs...)
}

// Apply sets opts.State, opts.StateClient (an S3 client from the SDK's
// chain, which Recover reads the lock object with) and opts.MaxCount.
// envName is the normalized environment, part of upstream's state key.
func (f State) Apply(ctx context.Context, cfg lablink.Config, envName string,
	loadAWS func(context.Context) (aws.Config, error), opts *launcher.Options) error {
	opts.MaxCount = f.MaxCount
	if f.Spec == "" {
		return nil
	}
	b, err := tfstate.Parse(f.Spec, cfg, envName)
	if err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	opts.State = &b
	if b.S3 == nil {
		return nil
	}
	if b.S3.Bucket == "" {
		return errors.New("--state s3 needs bucket_name in the config")
	}
	if b.S3.Region == "" {
		return errors.New("--state " + f.Spec + " needs app.region in the config")
	}
	b.S3.PathStyle, b.S3.NotAWS, b.S3.DynamoDBTable = f.PathStyle, f.NotAWS, f.LockTable
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return fmt.Errorf("--state: AWS configuration: %w", err)
	}
	region := b.S3.Region
	opts.StateClient = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.Region = region
		o.UsePathStyle = f.PathStyle
	})
	return nil
}
