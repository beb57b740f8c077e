package miniotest_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/miniotest"
)

func TestStartRoundTripAndStop(t *testing.T) {
	srv := miniotest.Start(t, miniotest.WithKMS("test-key"))
	assert.Equal(t, "test-key", srv.KMSKeyID, "KMSKeyID")
	client := srv.S3Client(t)
	bucket := srv.NewBucket(t)
	ctx := t.Context()

	_, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               aws.String(bucket),
		Key:                  aws.String("k"),
		Body:                 bytes.NewReader([]byte("hello")),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms,
		SSEKMSKeyId:          aws.String(srv.KMSKeyID),
	})
	require.NoError(t, err, "PutObject")
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	require.NoError(t, err, "GetObject")
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	assert.Equal(t, "hello", string(body), "object body")
	assert.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption, "ServerSideEncryption")

	srv.Stop()
	srv.Stop() // idempotent
	if resp, err := http.Get(srv.Endpoint + "/minio/health/live"); err == nil {
		resp.Body.Close()
		require.FailNow(t, "server still answers after Stop", "status %s", resp.Status)
	}
	// A bound so that a client bug cannot hang the test; the assertion is
	// only that an error comes back.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err = client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	require.Error(t, err, "HeadBucket on a stopped server")
	require.NotErrorIs(t, err, context.DeadlineExceeded, "HeadBucket hung until the deadline")
}

func TestSharedIsShared(t *testing.T) {
	a := miniotest.Shared(t)
	b := miniotest.Shared(t)
	require.Same(t, a, b, "Shared returned two servers")
	assert.Equal(t, miniotest.SharedKMSKey, a.KMSKeyID, "KMSKeyID")
	bucket := a.NewBucket(t)
	_, err := a.S3Client(t).HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err, "HeadBucket")
}

// An outage: Down, then Up on the same address with the same data.
func TestDownUp(t *testing.T) {
	srv := miniotest.Start(t, miniotest.WithKMS("k"))
	bucket := srv.NewBucket(t)
	c := srv.S3Client(t)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: strings.NewReader("v")})
	require.NoError(t, err)
	srv.Down()
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	require.Error(t, err, "the server is down")
	require.NoError(t, srv.Up(t.Context()))
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	require.NoError(t, err, "the object survived the outage")
}
