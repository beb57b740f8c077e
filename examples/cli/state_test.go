package main

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/internal/tofutest"
)

// Two CLI launches on their own working directories share one S3 state
// (MinIO through the SDK's standard chain, upstream's key): 2 and 3 VMs at
// once end with 5, and status from a fresh working directory says 5.
func TestLaunchSharedS3State(t *testing.T) {
	noAWS(t)
	srv := miniotest.Start(t, miniotest.WithKMS("state-key"))
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_REGION", miniotest.Region)
	bucket := srv.NewBucket(t)
	cfg := writeConfig(t, "bucket_name: tf-state-lablink-allocator-bucket", "bucket_name: "+bucket,
		"  region: us-west-2", "  region: "+miniotest.Region)
	bin := tofutest.Binary(t)
	tofuEnv(t)
	state := []string{"--state", "s3", "--state-path-style", "--state-not-aws", "--config", cfg, "--terraform", bin}
	env := map[string]string{"ALLOCATOR_SG_ID": sg}

	var wg sync.WaitGroup
	results := make([]result, 2)
	for i, n := range []string{"2", "3"} {
		args := append([]string{"launch", "--count", n, "--gpu", "catalog", "--allocator-ip", "203.0.113.10",
			"--workdir", t.TempDir()}, state...)
		wg.Go(func() { results[i] = runCLI(t, env, args...) })
	}
	wg.Wait()
	for i, r := range results {
		require.Equal(t, exitOK, r.code, "launch %d: %v", i, r)
	}
	r := runCLI(t, env, append([]string{"status", "--workdir", t.TempDir()}, state...)...)
	require.Equal(t, exitOK, r.code, "status: %v", r)
	assert.Regexp(t, `(?m)^client VMs:\s+5$`, r.stdout, "a fresh working directory reads the shared state")

	r = runCLI(t, env, append([]string{"status", "--workdir", t.TempDir(), "--state-path-style"}, "--config", cfg)...)
	assert.Equal(t, exitInvalid, r.code, "--state-path-style without an S3 state: %v", r)
}
