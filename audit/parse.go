package audit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ParseStore returns the Store a command-line argument names:
//
//	s3://bucket                      the bucket root (upstream's layout)
//	s3://bucket/prefix               keys under prefix/ (S3Options.Prefix)
//	s3://bucket/prefix?kms_key_id=K  as above, with SSE-KMS key K (S3Options.KMSKeyID)
//	s3://bucket?path_style=true      path-style requests (S3Options.UsePathStyle)
//	anything else                    a local directory (DirStore)
//
// The query parameters combine ("?kms_key_id=K&path_style=true"). A spec
// that is empty or names S3 badly is an error matching ErrInvalid.
//
// For S3, awsCfg loads the SDK configuration (region, credentials,
// endpoint) the S3 client is made from. It is called once, after the spec
// has been checked, and never for a directory; an S3 spec with a nil
// awsCfg is an error. This package does not load the configuration itself,
// so that importing it does not bring in the SDK's configuration chain
// (github.com/aws/aws-sdk-go-v2/config, with its shared files, SSO, STS and
// instance metadata clients); pass a function around
// config.LoadDefaultConfig for the standard chain.
func ParseStore(ctx context.Context, spec string, awsCfg func(ctx context.Context) (aws.Config, error)) (Store, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("audit: %w: empty store", ErrInvalid)
	}
	if !strings.HasPrefix(strings.ToLower(spec), "s3://") {
		return NewDirStore(spec), nil
	}
	bucket, opts, err := parseS3(spec)
	if err != nil {
		return nil, fmt.Errorf("audit: store %q: %w", spec, err)
	}
	if awsCfg == nil {
		return nil, fmt.Errorf("audit: store %q: no function to load the AWS configuration", spec)
	}
	cfg, err := awsCfg(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: aws config: %w", err)
	}
	return NewS3Store(s3.NewFromConfig(cfg), bucket, opts), nil
}

// parseS3 splits an "s3://" spec into the bucket and the store's options,
// reporting every problem of the spec at once.
func parseS3(spec string) (bucket string, opts *S3Options, err error) {
	u, err := url.Parse(spec)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var errs []error
	if u.User != nil || u.Port() != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("%w: want s3://bucket[/prefix][?kms_key_id=K&path_style=true]", ErrInvalid))
	}
	if !bucketRE.MatchString(u.Hostname()) || strings.Contains(u.Hostname(), "..") {
		errs = append(errs, fmt.Errorf("%w: bad bucket name %q", ErrInvalid, u.Hostname()))
	}
	opts = &S3Options{Prefix: strings.Trim(u.Path, "/")}
	if opts.Prefix != "" {
		if err := checkKey(opts.Prefix); err != nil {
			errs = append(errs, fmt.Errorf("prefix: %w", err))
		}
	}
	for k, v := range u.Query() {
		if err := opts.setParam(k, v); err != nil {
			errs = append(errs, err)
		}
	}
	return u.Hostname(), opts, errors.Join(errs...)
}

// setParam sets the option that the spec's query parameter k names.
func (o *S3Options) setParam(k string, v []string) error {
	if len(v) != 1 || v[0] == "" {
		return fmt.Errorf("%w: parameter %q: want one non-empty value", ErrInvalid, k)
	}
	switch k {
	case "kms_key_id":
		o.KMSKeyID = v[0]
	case "path_style":
		b, err := strconv.ParseBool(v[0])
		if err != nil {
			return fmt.Errorf("%w: parameter %q: want true or false, got %q", ErrInvalid, k, v[0])
		}
		o.UsePathStyle = b
	default:
		return fmt.Errorf("%w: unknown parameter %q: want kms_key_id or path_style", ErrInvalid, k)
	}
	return nil
}
