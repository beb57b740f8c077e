package miniotest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lablink-go/lablink/internal/miniotest"
)

func TestStartRoundTripAndStop(t *testing.T) {
	srv := miniotest.Start(t, miniotest.WithKMS("test-key"))
	if srv.KMSKeyID != "test-key" {
		t.Errorf("KMSKeyID = %q, want %q", srv.KMSKeyID, "test-key")
	}
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
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(body) != "hello" {
		t.Errorf("body = %q, want %q", body, "hello")
	}
	if out.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
		t.Errorf("ServerSideEncryption = %q, want aws:kms", out.ServerSideEncryption)
	}

	srv.Stop()
	srv.Stop() // idempotent
	if resp, err := http.Get(srv.Endpoint + "/minio/health/live"); err == nil {
		resp.Body.Close()
		t.Fatalf("server still answers after Stop: %s", resp.Status)
	}
	// A bound so that a client bug cannot hang the test; the assertion is
	// only that an error comes back.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err = client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		t.Fatal("HeadBucket on a stopped server succeeded")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("HeadBucket hung until the deadline: %v", err)
	}
}

func TestSharedIsShared(t *testing.T) {
	a := miniotest.Shared(t)
	b := miniotest.Shared(t)
	if a != b {
		t.Fatal("Shared returned two servers")
	}
	if a.KMSKeyID != miniotest.SharedKMSKey {
		t.Errorf("KMSKeyID = %q, want %q", a.KMSKeyID, miniotest.SharedKMSKey)
	}
	bucket := a.NewBucket(t)
	if _, err := a.S3Client(t).HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("HeadBucket: %v", err)
	}
}
