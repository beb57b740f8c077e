package setup

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
)

// DefaultProbeTimeout is how long the search for AWS credentials may take
// by default. Off EC2 it ends in the instance metadata service, which
// fails within a second where something answers at 169.254.169.254 and
// after the SDK's retries where nothing does.
const DefaultProbeTimeout = 10 * time.Second

// AWS loads the SDK's default configuration chain (environment, shared
// files, SSO, instance metadata) once, for the audit store's S3 client and
// the GPU detector's EC2 client. It is safe for concurrent use.
//
// The configuration logs nothing: with the SDK's default logger, the
// credential chain prints "WARN falling back to IMDSv1 ... 403" on stderr
// whenever something at the instance metadata address refuses a session
// token, which off EC2 comes before the adapter's own "no AWS
// credentials" and says nothing the error does not.
type AWS struct {
	// Region is the region when neither the environment (AWS_REGION) nor
	// the shared config names one: the config's app.region. The GPU
	// detector asks EC2 in app.region whatever this resolves to.
	Region string
	// ProbeTimeout bounds Credentials. Default DefaultProbeTimeout.
	ProbeTimeout time.Duration

	mu  sync.Mutex
	cfg *aws.Config
}

// Config returns the configuration, loading it on the first call that
// succeeds. Its signature is the loader audit.ParseStore takes.
func (a *AWS) Config(ctx context.Context) (aws.Config, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg != nil {
		return *a.cfg, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithDefaultRegion(a.Region), config.WithLogger(logging.Nop{}))
	if err != nil {
		return aws.Config{}, err
	}
	a.cfg = &cfg
	return cfg, nil
}

// Credentials returns the configuration once its chain has yielded
// credentials, within ProbeTimeout. The error says why not: no provider
// found any (off EC2, the instance metadata service's own error), or ctx
// ended (then it matches ctx.Err()).
func (a *AWS) Credentials(ctx context.Context) (aws.Config, error) {
	timeout := a.ProbeTimeout
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cfg, err := a.Config(pctx)
	if err == nil && cfg.Credentials == nil {
		err = errors.New("no credentials provider")
	}
	if err == nil {
		_, err = cfg.Credentials.Retrieve(pctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return aws.Config{}, ctx.Err()
		}
		return aws.Config{}, err
	}
	return cfg, nil
}
