package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// PutObjectAPIClient is the S3 operation an S3Store needs: PutObject, for
// writing. It is the client NewS3Store requires; *s3.Client satisfies it.
type PutObjectAPIClient interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// GetObjectAPIClient is the S3 operation S3Store.Get needs. The SDK declares
// per-operation interfaces only for paginators and waiters, so this one is
// declared here, in the same form.
type GetObjectAPIClient interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// DeleteObjectAPIClient is the S3 operation S3Store.Delete needs, declared
// here in the form of GetObjectAPIClient. Only an OpStore deletes (entries
// of its status index); a Trail never does.
type DeleteObjectAPIClient interface {
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// S3API is every operation an S3Store can use: a client that implements it
// can write and read back the trail and keep an OpStore. *s3.Client does.
// NewS3Store needs only PutObjectAPIClient.
type S3API interface {
	PutObjectAPIClient
	GetObjectAPIClient
	DeleteObjectAPIClient
	s3.ListObjectsV2APIClient
}

// S3Options are the optional settings of an S3Store. The zero value (or a
// nil *S3Options) stores keys at the root of the bucket without SSE-KMS.
type S3Options struct {
	// Prefix is prepended, followed by "/", to every key. Leading and
	// trailing slashes are ignored. Default "": keys at the bucket root,
	// where upstream LabLink writes {env}/client/terraform.runtime.tfvars.
	Prefix string
	// KMSKeyID, when set, makes every PutObject request SSE-KMS
	// (ServerSideEncryption aws:kms) with this key id or ARN, as upstream's
	// optional KMS key does. Default "": no encryption header, so the
	// bucket's default encryption applies.
	KMSKeyID string
	// UsePathStyle, when true, makes every request address the bucket in
	// the URL path (http://host/bucket/key) rather than in the host name
	// (http://bucket.host/key), whatever the client was built with. An
	// S3-compatible server reached by host name, such as MinIO at
	// http://minio:9000 without MINIO_DOMAIN, needs it; the SDK already
	// uses the path for an endpoint that is an IP address, and AWS S3
	// serves both. Default false: the client's own setting
	// (s3.Options.UsePathStyle), virtual-hosted unless it says otherwise.
	UsePathStyle bool
}

// S3Store is a Store in an S3 bucket. Every PutObject carries a SHA-256
// checksum of the body, which S3 verifies and stores with the object, and
// Get asks for it back so the SDK verifies what it reads. Create relies on
// conditional writes (If-None-Match: *), so an object is never overwritten
// even when two writers race. S3Store is safe for concurrent use if its
// client is; *s3.Client is.
//
// Writing needs only PutObject. Get and List need the client to implement
// GetObjectAPIClient and s3.ListObjectsV2APIClient too; when it does not,
// they return an error matching ErrNotReadable (and Delete, without
// DeleteObjectAPIClient, one matching errors.ErrUnsupported), so a writer
// can be given a
// client (or credentials) that cannot read the trail back. Such a writer
// cannot confirm that an object Create finds already written holds its
// bytes, so its retried writes fail with ErrExists (see Create).
type S3Store struct {
	client PutObjectAPIClient
	get    GetObjectAPIClient        // nil: Get fails with ErrNotReadable
	list   s3.ListObjectsV2APIClient // nil: List fails with ErrNotReadable
	del    DeleteObjectAPIClient     // nil: Delete fails with errors.ErrUnsupported
	bucket string
	prefix string // "" or ending in "/"
	kmsKey string
	optFns []func(*s3.Options) // passed to every request
}

// NewS3Store returns a Store in bucket, using client for all requests.
// client must implement PutObject; Get, List and Delete use its GetObject,
// ListObjectsV2 and DeleteObject methods when it has them (found by type
// assertion, as *s3.Client has) and otherwise fail. opts may be nil.
// Neither the client nor the bucket is contacted here; errors surface on
// the first request.
func NewS3Store(client PutObjectAPIClient, bucket string, opts *S3Options) *S3Store {
	s := &S3Store{client: client, bucket: bucket}
	s.get, _ = client.(GetObjectAPIClient)
	s.list, _ = client.(s3.ListObjectsV2APIClient)
	s.del, _ = client.(DeleteObjectAPIClient)
	if opts != nil {
		if p := strings.Trim(opts.Prefix, "/"); p != "" {
			s.prefix = p + "/"
		}
		s.kmsKey = opts.KMSKeyID
		if opts.UsePathStyle {
			s.optFns = append(s.optFns, func(o *s3.Options) { o.UsePathStyle = true })
		}
	}
	return s
}

// Put implements Store.
func (s *S3Store) Put(ctx context.Context, key string, body []byte, contentType string) error {
	if err := s.put(ctx, key, body, contentType, false); err != nil {
		return fmt.Errorf("audit: put %s: %w", s.Location(key), err)
	}
	return nil
}

func (s *S3Store) put(ctx context.Context, key string, body []byte, contentType string, create bool) error {
	if err := checkKey(key); err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	in := &s3.PutObjectInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(s.prefix + key),
		Body:              bytes.NewReader(body),
		ContentLength:     aws.Int64(int64(len(body))),
		ContentType:       aws.String(contentType),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	}
	if create {
		in.IfNoneMatch = aws.String("*")
	}
	if s.kmsKey != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(s.kmsKey)
	}
	_, err := s.client.PutObject(ctx, in, s.optFns...)
	return err
}

// Get implements Store.
func (s *S3Store) Get(ctx context.Context, key string) (b []byte, err error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if s.get == nil {
		return nil, fmt.Errorf("audit: get %s: %w: client %T has no GetObject method", s.Location(key), ErrNotReadable, s.client)
	}
	out, err := s.get.GetObject(ctx, &s3.GetObjectInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(s.prefix + key),
		ChecksumMode: types.ChecksumModeEnabled,
	}, s.optFns...)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("audit: get %s: %w: %w", s.Location(key), ErrNotFound, err)
		}
		return nil, fmt.Errorf("audit: get %s: %w", s.Location(key), err)
	}
	// Reading to the end lets the SDK compare the stored checksum.
	b, err = io.ReadAll(out.Body)
	if err = errors.Join(err, out.Body.Close()); err != nil {
		return nil, fmt.Errorf("audit: get %s: %w", s.Location(key), err)
	}
	return b, nil
}

// Delete implements Store; S3 answers a DeleteObject of a missing key
// with success.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if s.del == nil {
		return fmt.Errorf("audit: delete %s: %w: client %T has no DeleteObject method", s.Location(key), errors.ErrUnsupported, s.client)
	}
	_, err := s.del.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	}, s.optFns...)
	if err != nil {
		return fmt.Errorf("audit: delete %s: %w", s.Location(key), err)
	}
	return nil
}

// List implements Store with ListObjectsV2 (Prefix, StartAfter, MaxKeys),
// one request per 1,000 keys. Keys are returned without the store's
// Prefix.
func (s *S3Store) List(ctx context.Context, prefix string, opts ListOptions) ([]string, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if s.list == nil {
		return nil, fmt.Errorf("audit: list %s: %w: client %T has no ListObjectsV2 method", s.Location(prefix), ErrNotReadable, s.client)
	}
	in := &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	}
	if opts.StartAfter != "" {
		in.StartAfter = aws.String(s.prefix + opts.StartAfter)
	}
	keys := []string{}
	for {
		if opts.MaxKeys > 0 {
			in.MaxKeys = aws.Int32(int32(min(opts.MaxKeys-len(keys), 1000)))
		}
		page, err := s.list.ListObjectsV2(ctx, in, s.optFns...)
		if err != nil {
			return nil, fmt.Errorf("audit: list %s: %w", s.Location(prefix), err)
		}
		for _, o := range page.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(o.Key), s.prefix))
		}
		full := opts.MaxKeys > 0 && len(keys) >= opts.MaxKeys
		if full || !aws.ToBool(page.IsTruncated) || aws.ToString(page.NextContinuationToken) == "" {
			break
		}
		in.ContinuationToken = page.NextContinuationToken
	}
	if opts.MaxKeys > 0 && len(keys) > opts.MaxKeys {
		keys = keys[:opts.MaxKeys]
	}
	// S3 lists in UTF-8 binary order, which is byte order; sorting keeps
	// the contract for servers that might not.
	slices.Sort(keys)
	return keys, nil
}

// Location implements Store: "s3://bucket/prefix/key".
func (s *S3Store) Location(key string) string {
	return "s3://" + s.bucket + "/" + s.prefix + key
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound")
}
