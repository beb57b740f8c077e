package audit

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ParseStore returns the Store a command-line argument names:
//
//	s3://bucket                    the bucket root (upstream's layout)
//	s3://bucket/prefix             keys under prefix/
//	s3://bucket/prefix?kms_key_id=K  as above, with SSE-KMS key K
//	anything else                  a local directory (DirStore)
//
// For S3, awsCfg loads the SDK configuration (region, credentials); nil
// means config.LoadDefaultConfig. It is not called for a directory.
func ParseStore(ctx context.Context, spec string, awsCfg func(ctx context.Context) (aws.Config, error)) (Store, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("audit: %w: empty store", ErrInvalid)
	}
	if !strings.HasPrefix(strings.ToLower(spec), "s3://") {
		return NewDirStore(spec), nil
	}
	u, err := url.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("audit: %w: store %q: %w", ErrInvalid, spec, err)
	}
	if u.User != nil || u.Port() != "" || u.Fragment != "" {
		return nil, fmt.Errorf("audit: %w: store %q: want s3://bucket[/prefix]", ErrInvalid, spec)
	}
	if !bucketRE.MatchString(u.Host) || strings.Contains(u.Host, "..") {
		return nil, fmt.Errorf("audit: %w: store %q: bad bucket name %q", ErrInvalid, spec, u.Host)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := checkKey(prefix); err != nil {
			return nil, fmt.Errorf("audit: store %q: %w", spec, err)
		}
	}
	opts := &S3Options{Prefix: prefix}
	for k, v := range u.Query() {
		if k != "kms_key_id" || len(v) != 1 || v[0] == "" {
			return nil, fmt.Errorf("audit: %w: store %q: unknown or empty parameter %q", ErrInvalid, spec, k)
		}
		opts.KMSKeyID = v[0]
	}
	if awsCfg == nil {
		awsCfg = func(ctx context.Context) (aws.Config, error) { return config.LoadDefaultConfig(ctx) }
	}
	cfg, err := awsCfg(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: aws config: %w", err)
	}
	return NewS3Store(s3.NewFromConfig(cfg), u.Host, opts), nil
}
