package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfstate"
)

// stateFlags choose where OpenTofu keeps the client VMs' state, and bound
// the requests. The zero value is the defaults: the module's own backend
// and the launcher's MaxCount.
type stateFlags struct {
	// spec is --state: "" keeps the module's backend; local, s3 or
	// s3://BUCKET/KEY as tfstate.Parse reads them.
	spec      string
	pathStyle bool
	notAWS    bool
	lockTable string
	maxCount  int
}

func (f *stateFlags) register(set *flag.FlagSet) {
	set.StringVar(&f.spec, "state", "", "where OpenTofu keeps the state: local (the workdir), s3 (upstream's "+
		"bucket_name and {deployment_name}/{environment}/client/terraform.tfstate, region app.region) or "+
		"s3://BUCKET/KEY; S3 endpoint and credentials come from the AWS SDK's chain (AWS_ENDPOINT_URL_S3) "+
		"(default: the module's own backend)")
	set.BoolVar(&f.pathStyle, "state-path-style", false, "address the S3 state's bucket in the path, as MinIO needs")
	set.BoolVar(&f.notAWS, "state-not-aws", false, "the S3 state is on an S3-compatible server, not AWS: "+
		"skip the checks only AWS answers (STS credentials, account id, region name, instance metadata)")
	set.StringVar(&f.lockTable, "state-lock-table", "", "lock the S3 state with this DynamoDB table as well, "+
		"as upstream's existing deployments do")
	set.IntVar(&f.maxCount, "max-count", 0, "the most VMs one request may ask for, and one apply add "+
		"(default: the launcher's, 500)")
}

// check validates the flags on their own; the config is not loaded yet.
func (f stateFlags) check() error {
	var errs []error
	b, err := tfstate.Parse(f.spec, lablink.Config{}, "prod")
	if err != nil {
		errs = append(errs, fmt.Errorf("--state: %w", err))
	} else if b.S3 == nil {
		for _, fl := range []struct {
			name string
			set  bool
		}{{"--state-path-style", f.pathStyle}, {"--state-not-aws", f.notAWS}, {"--state-lock-table", f.lockTable != ""}} {
			if fl.set {
				errs = append(errs, fmt.Errorf("%s needs an S3 state (--state s3 or s3://BUCKET/KEY)", fl.name))
			}
		}
	}
	if f.maxCount < 0 {
		errs = append(errs, errors.New("--max-count must not be negative"))
	}
	return errors.Join(errs...)
}

// apply sets opts.State, opts.StateClient (an S3 client from the SDK's
// chain, which Recover reads the lock object with) and opts.MaxCount.
// envName is the normalized environment, part of upstream's state key.
func (f stateFlags) apply(ctx context.Context, cfg lablink.Config, envName string,
	loadAWS func(context.Context) (aws.Config, error), opts *launcher.Options) error {
	opts.MaxCount = f.maxCount
	if f.spec == "" {
		return nil
	}
	b, err := tfstate.Parse(f.spec, cfg, envName)
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
		return errors.New("--state " + f.spec + " needs app.region in the config")
	}
	b.S3.PathStyle, b.S3.NotAWS, b.S3.DynamoDBTable = f.pathStyle, f.notAWS, f.lockTable
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return fmt.Errorf("--state: AWS configuration: %w", err)
	}
	region := b.S3.Region
	opts.StateClient = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.Region = region
		o.UsePathStyle = f.pathStyle
	})
	return nil
}

// recoverWorkdir runs l.Recover and logs what it found: the operations a
// dead allocator left queued or running, now interrupted, and a state lock
// it cleared or, unable to prove its holder gone, left alone. Only an
// error of Recover stops the server.
func recoverWorkdir(ctx context.Context, l *launcher.Launcher, log *slog.Logger) error {
	rec, err := l.Recover(ctx)
	if err != nil {
		return err
	}
	if len(rec.Interrupted) > 0 {
		ids := make([]int64, len(rec.Interrupted))
		for i, op := range rec.Interrupted {
			ids[i] = op.ID
		}
		log.Warn("operations of a stopped allocator marked interrupted", "job_ids", ids)
	}
	if c := rec.Cleared; c != nil {
		log.Warn("cleared the stale state lock of a stopped allocator", "lock_id", c.ID, "who", c.Who,
			"operation", c.Operation, "created", c.Created)
	}
	if h := rec.Held; h != nil {
		log.Warn("the state is locked by a process not proven gone; launches wait for it up to "+
			"the lock timeout (tofu force-unlock "+h.ID+" once it is gone)", "lock_id", h.ID, "who", h.Who,
			"operation", h.Operation, "created", h.Created)
	}
	return nil
}
