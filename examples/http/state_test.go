package main

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfstate"
)

func TestParseStateFlags(t *testing.T) {
	base := []string{"--config", "c.yaml", "--workdir", "w"}
	tests := []struct {
		name   string
		args   []string
		want   setup.State
		stderr string // for a refused command line
	}{
		{name: "defaults"},
		{name: "s3 on MinIO", args: []string{"--state", "s3", "--state-path-style", "--state-not-aws", "--max-count", "50"},
			want: setup.State{Spec: "s3", PathStyle: true, NotAWS: true, MaxCount: 50}},
		{name: "another place, with upstream's lock table", args: []string{"--state", "s3://b/p/terraform.tfstate",
			"--state-lock-table", "lablink-lock"},
			want: setup.State{Spec: "s3://b/p/terraform.tfstate", LockTable: "lablink-lock"}},
		{name: "local", args: []string{"--state", "local"}, want: setup.State{Spec: "local"}},
		{name: "unknown backend", args: []string{"--state", "gcs"},
			stderr: `--state: invalid state location "gcs": want local, s3 or s3://BUCKET/KEY`},
		{name: "no key", args: []string{"--state", "s3://bucket/"},
			stderr: `--state: invalid state location "s3://bucket/"`},
		{name: "path style without S3", args: []string{"--state-path-style"},
			stderr: "--state-path-style needs an S3 state (--state s3 or s3://BUCKET/KEY)"},
		{name: "not AWS on local state", args: []string{"--state", "local", "--state-not-aws"},
			stderr: "--state-not-aws needs an S3 state"},
		{name: "lock table without S3", args: []string{"--state-lock-table", "t"},
			stderr: "--state-lock-table needs an S3 state"},
		{name: "negative max count", args: []string{"--max-count", "-1"}, stderr: "--max-count must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got, code := parseFlags(append(append([]string(nil), base...), tc.args...), &stderr)
			if tc.stderr != "" {
				assert.Equal(t, exitUsage, code, "exit code")
				assert.Contains(t, stderr.String(), tc.stderr)
				return
			}
			require.Equal(t, exitOK, code, "exit code; stderr:\n%s", stderr.String())
			assert.Equal(t, tc.want, got.state)
		})
	}
}

func TestStateFlagsApply(t *testing.T) {
	noAWSConfig := func(context.Context) (aws.Config, error) {
		t.Error("the AWS configuration was loaded for a state that needs none")
		return aws.Config{}, errors.New("not expected")
	}
	awsConfig := func(context.Context) (aws.Config, error) { return aws.Config{Region: "eu-west-1"}, nil }
	cfg := testConfig()
	cfg.BucketName = "lablink-bucket"
	cfg.DeploymentName = "sleap-course"
	noBucket := testConfig()
	noBucket.BucketName = ""

	t.Run("module's backend", func(t *testing.T) {
		var o launcher.Options
		require.NoError(t, setup.State{MaxCount: 30}.Apply(t.Context(), cfg, "prod", noAWSConfig, &o))
		assert.Nil(t, o.State)
		assert.Nil(t, o.StateClient)
		assert.Equal(t, 30, o.MaxCount)
	})
	t.Run("local", func(t *testing.T) {
		var o launcher.Options
		require.NoError(t, setup.State{Spec: "local"}.Apply(t.Context(), cfg, "prod", noAWSConfig, &o))
		require.NotNil(t, o.State)
		assert.Nil(t, o.State.S3)
		assert.Nil(t, o.StateClient)
	})
	t.Run("upstream's S3", func(t *testing.T) {
		var o launcher.Options
		f := setup.State{Spec: "s3", PathStyle: true, NotAWS: true, LockTable: "locks"}
		require.NoError(t, f.Apply(t.Context(), cfg, "staging", awsConfig, &o))
		require.NotNil(t, o.State)
		assert.Equal(t, &tfstate.S3{Bucket: "lablink-bucket", Key: "sleap-course/staging/client/terraform.tfstate",
			Region: cfg.App.Region, PathStyle: true, NotAWS: true, DynamoDBTable: "locks"}, o.State.S3)
		assert.NotNil(t, o.StateClient)
	})
	t.Run("s3 without bucket_name", func(t *testing.T) {
		var o launcher.Options
		err := setup.State{Spec: "s3"}.Apply(t.Context(), noBucket, "prod", noAWSConfig, &o)
		assert.EqualError(t, err, "--state s3 needs bucket_name in the config")
	})
	t.Run("another bucket needs no bucket_name", func(t *testing.T) {
		var o launcher.Options
		require.NoError(t, setup.State{Spec: "s3://other/k.tfstate"}.Apply(t.Context(), noBucket, "prod", awsConfig, &o))
		assert.Equal(t, "s3://other/k.tfstate", o.State.String())
	})
}
