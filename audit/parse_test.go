package audit_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lablink-go/lablink/audit"
)

func TestParseStore(t *testing.T) {
	cfg := func(context.Context) (aws.Config, error) { return aws.Config{Region: "us-west-2"}, nil }
	dir := t.TempDir()
	tests := []struct {
		spec, wantLocation string
	}{
		{"s3://tf-state-lablink-allocator-bucket", "s3://tf-state-lablink-allocator-bucket/dev/k"},
		{"s3://bucket/audit", "s3://bucket/audit/dev/k"},
		{"S3://bucket/a/b/", "s3://bucket/a/b/dev/k"},
		{"s3://bucket/a?kms_key_id=alias/lablink", "s3://bucket/a/dev/k"},
		{dir, filepath.Join(dir, "dev", "k")},
		{"relative/dir", filepath.Join("relative", "dir", "dev", "k")},
	}
	for _, tt := range tests {
		s, err := audit.ParseStore(t.Context(), tt.spec, cfg)
		if err != nil {
			t.Errorf("ParseStore(%q): %v", tt.spec, err)
			continue
		}
		if got := s.Location("dev/k"); got != tt.wantLocation {
			t.Errorf("ParseStore(%q).Location = %q, want %q", tt.spec, got, tt.wantLocation)
		}
	}

	for _, spec := range []string{
		"", "  ", "s3://", "s3://B", "s3://ab", "s3://bucket/../x", "s3://bucket/a//b",
		"s3://user@bucket", "s3://bucket:9000", "s3://bucket?sse=1", "s3://bucket?kms_key_id=",
	} {
		if _, err := audit.ParseStore(t.Context(), spec, cfg); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("ParseStore(%q): got %v, want ErrInvalid", spec, err)
		}
	}

	boom := errors.New("no credentials")
	_, err := audit.ParseStore(t.Context(), "s3://bucket", func(context.Context) (aws.Config, error) { return aws.Config{}, boom })
	if !errors.Is(err, boom) {
		t.Errorf("ParseStore with a failing config: got %v, want %v", err, boom)
	}
}
