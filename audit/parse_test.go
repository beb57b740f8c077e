package audit_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/miniotest"
)

func TestParseStore(t *testing.T) {
	calls := 0
	cfg := func(context.Context) (aws.Config, error) { calls++; return aws.Config{Region: "us-west-2"}, nil }
	dir := t.TempDir()
	tests := []struct {
		spec, wantLocation string
		wantCalls          int // of the AWS configuration loader
	}{
		{"s3://tf-state-lablink-allocator-bucket", "s3://tf-state-lablink-allocator-bucket/dev/k", 1},
		{"s3://bucket/audit", "s3://bucket/audit/dev/k", 1},
		{"S3://bucket/a/b/", "s3://bucket/a/b/dev/k", 1},
		{"s3://bucket/a?kms_key_id=alias/lablink", "s3://bucket/a/dev/k", 1},
		{"s3://bucket/a?path_style=true&kms_key_id=k", "s3://bucket/a/dev/k", 1},
		{"s3://bucket?path_style=false", "s3://bucket/dev/k", 1},
		{dir, filepath.Join(dir, "dev", "k"), 0},
		{"relative/dir", filepath.Join("relative", "dir", "dev", "k"), 0},
	}
	for _, tt := range tests {
		calls = 0
		s, err := audit.ParseStore(t.Context(), tt.spec, cfg)
		if assert.NoError(t, err, "ParseStore(%q)", tt.spec) {
			assert.Equal(t, tt.wantLocation, s.Location("dev/k"), "ParseStore(%q).Location", tt.spec)
		}
		assert.Equal(t, tt.wantCalls, calls, "ParseStore(%q): calls of the AWS configuration loader", tt.spec)
	}
}

func TestParseStoreErrors(t *testing.T) {
	cfg := func(context.Context) (aws.Config, error) { return aws.Config{Region: "us-west-2"}, nil }
	for _, spec := range []string{
		"", "  ", "s3://", "s3://B", "s3://ab", "s3://bucket/../x", "s3://bucket/a//b",
		"s3://user@bucket", "s3://bucket:9000", "s3://bucket?sse=1", "s3://bucket?kms_key_id=",
		"s3://bucket?kms_key_id=a&kms_key_id=b", "s3://bucket?path_style=yes", "s3://bucket?path_style",
		"s3://bucket#frag",
	} {
		_, err := audit.ParseStore(t.Context(), spec, cfg)
		assert.ErrorIs(t, err, audit.ErrInvalid, "ParseStore(%q)", spec)
	}

	// Every problem of one spec is reported at once.
	_, err := audit.ParseStore(t.Context(), "s3://B/a//b?sse=1&path_style=maybe", cfg)
	for _, want := range []string{`bucket name "B"`, `"a//b"`, `"sse"`, `"maybe"`} {
		assert.ErrorContains(t, err, want)
	}

	boom := errors.New("no credentials")
	_, err = audit.ParseStore(t.Context(), "s3://bucket", func(context.Context) (aws.Config, error) { return aws.Config{}, boom })
	assert.ErrorIs(t, err, boom, "ParseStore with a failing config")

	_, err = audit.ParseStore(t.Context(), "s3://bucket", nil)
	assert.Error(t, err, "ParseStore of an S3 spec without a config loader")
	s, err := audit.ParseStore(t.Context(), t.TempDir(), nil)
	assert.NoError(t, err, "ParseStore of a directory without a config loader")
	assert.IsType(t, &audit.DirStore{}, s)
}

// A store from ParseStore writes to MinIO reached by host name, where
// addressing matters: without path_style the SDK puts the bucket in the
// host name, with it in the path. A dialer that sends every host name to
// the proxy makes both observable.
func TestParseStorePathStyle(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.NewBucket(t)
	var mu sync.Mutex
	var seen []string // host and path of each PUT
	p := newS3Proxy(t, srv, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodPut {
			mu.Lock()
			seen = append(seen, r.Host+r.URL.Path)
			mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
	u, err := url.Parse(p.URL)
	require.NoError(t, err)
	host := "localhost:" + u.Port()
	tests := []struct {
		query   string
		want    string // host and path of the PUT
		works   bool
		wantSSE types.ServerSideEncryption
	}{
		{query: "", want: bucket + "." + host + "/p/dev/k"},
		{query: "?path_style=false", want: bucket + "." + host + "/p/dev/k"},
		{query: "?path_style=true", want: host + "/" + bucket + "/p/dev/k", works: true},
		{query: "?path_style=1&kms_key_id=" + srv.KMSKeyID, want: host + "/" + bucket + "/p/dev/k", works: true, wantSSE: types.ServerSideEncryptionAwsKms},
	}
	for _, tt := range tests {
		mu.Lock()
		seen = nil
		mu.Unlock()
		spec := "s3://" + bucket + "/p" + tt.query
		s, err := audit.ParseStore(t.Context(), spec, func(context.Context) (aws.Config, error) {
			return minioConfig(srv, "http://"+host, u.Host), nil
		})
		require.NoError(t, err, spec)
		err = s.Put(t.Context(), "dev/k", []byte(spec), audit.ContentTypeTFVars)
		mu.Lock()
		if assert.NotEmpty(t, seen, "%s: no PUT reached the proxy", spec) {
			assert.Equal(t, tt.want, seen[0], "%s: host and path of the PUT", spec)
		}
		mu.Unlock()
		if !tt.works {
			assert.Error(t, err, "%s: MinIO without MINIO_DOMAIN cannot take a virtual-hosted request", spec)
			continue
		}
		require.NoError(t, err, spec)
		mustGet(t, s, "dev/k", spec)
		checkObjectMetadata(t, srv, bucket, "p/dev/k", []byte(spec), tt.wantSSE)
	}
}

// minioConfig is an SDK configuration for srv at endpoint whose HTTP
// client dials addr whatever host name a request names.
func minioConfig(srv *miniotest.Server, endpoint, addr string) aws.Config {
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	return aws.Config{
		Region:       miniotest.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   &http.Client{Transport: &http.Transport{DialContext: dial}},
	}
}
