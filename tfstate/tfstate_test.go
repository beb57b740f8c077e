package tfstate_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/tfstate"
)

func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }

func TestParse(t *testing.T) {
	cfg := testkit.Config()
	named := cfg
	named.DeploymentName = "sleap-lab"
	tests := []struct {
		name string
		spec string
		want string
		s3   *tfstate.S3
	}{
		{name: "empty is local", spec: "", want: "local"},
		{name: "local", spec: "local", want: "local"},
		{name: "upstream's key", spec: "s3", want: "s3://tf-state-lablink-allocator-bucket/lablink/test/client/terraform.tfstate",
			s3: &tfstate.S3{Bucket: "tf-state-lablink-allocator-bucket", Key: "lablink/test/client/terraform.tfstate", Region: "us-west-2"}},
		{name: "explicit", spec: "s3://b/k/terraform.tfstate", want: "s3://b/k/terraform.tfstate",
			s3: &tfstate.S3{Bucket: "b", Key: "k/terraform.tfstate", Region: "us-west-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tfstate.Parse(tt.spec, cfg, "test")
			require.NoError(t, err)
			assert.Equal(t, tt.want, b.String())
			assert.Equal(t, tt.s3, b.S3)
		})
	}
	b, err := tfstate.Parse("s3", named, "prod")
	require.NoError(t, err)
	assert.Equal(t, "sleap-lab/prod/client/terraform.tfstate", b.S3.Key, "deployment_name names the key")

	for _, bad := range []string{"S3", "s3:/b/k", "s3://", "s3://b", "s3://b/", "s3:///k", "s3://b/dir/", "gs://b/k"} {
		_, err := tfstate.Parse(bad, cfg, "prod")
		assert.ErrorIs(t, err, tfstate.ErrInvalid, bad)
	}
}

func TestBackendConfig(t *testing.T) {
	assert.Nil(t, tfstate.Backend{}.BackendConfig())
	s := tfstate.S3{Bucket: "b", Key: "k", Region: "eu-west-1"}
	assert.Equal(t, []string{"bucket=b", "key=k", "region=eu-west-1", "encrypt=true", "use_lockfile=true"},
		tfstate.Backend{S3: &s}.BackendConfig())
	s.DynamoDBTable, s.NoLockfile, s.PathStyle, s.NotAWS, s.Unencrypted = "lock-table", true, true, true, true
	assert.Equal(t, []string{"bucket=b", "key=k", "region=eu-west-1", "encrypt=false", "use_lockfile=false",
		"dynamodb_table=lock-table", "use_path_style=true", "skip_credentials_validation=true",
		"skip_requesting_account_id=true", "skip_region_validation=true", "skip_metadata_api_check=true"},
		tfstate.Backend{S3: &s}.BackendConfig())
	assert.Equal(t, "k.tflock", s.LockKey())
}

// minioBackend is an S3 backend on the shared MinIO server, with the
// environment OpenTofu needs to reach it through the SDK's standard chain.
func minioBackend(t *testing.T) (tfstate.Backend, map[string]string, *miniotest.Server) {
	t.Helper()
	srv := miniotest.Shared(t)
	bucket := srv.NewBucket(t)
	env := tofutest.ExecEnv(t)
	env["AWS_ENDPOINT_URL_S3"] = srv.Endpoint
	env["AWS_ACCESS_KEY_ID"] = srv.AccessKey
	env["AWS_SECRET_ACCESS_KEY"] = srv.SecretKey
	env["AWS_REGION"] = miniotest.Region
	b := tfstate.Backend{S3: &tfstate.S3{Bucket: bucket, Key: "lablink/test/client/terraform.tfstate",
		Region: miniotest.Region, PathStyle: true, NotAWS: true}}
	return b, env, srv
}

// module writes a provider-free module into a new directory, with a
// backend block of its own when backend is not "", and the launcher's
// backend file for b.
func module(t *testing.T, backend string, b tfstate.Backend, extra string) string {
	t.Helper()
	dir := t.TempDir()
	main := "resource \"terraform_data\" \"lablink_vm\" {\n  count = 2\n}\n" + extra
	if backend != "" {
		main += "terraform {\n  backend \"" + backend + "\" {}\n}\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, tfstate.FileName), b.File(), 0o644))
	return dir
}

func tf(t *testing.T, dir string, env map[string]string) *tfexec.Terraform {
	t.Helper()
	x, err := tfexec.NewTerraform(dir, tofutest.Binary(t))
	require.NoError(t, err)
	require.NoError(t, x.SetEnv(env))
	return x
}

func initOpts(b tfstate.Backend) []tfexec.InitOption {
	var opts []tfexec.InitOption
	for _, kv := range b.BackendConfig() {
		opts = append(opts, tfexec.BackendConfig(kv))
	}
	return opts
}

// The backend file puts the state in S3 whether the module declares no
// backend or upstream's empty s3 one, and back in the working directory
// when the module declares s3 (as upstream's dev setup does by deleting
// backend.tf).
func TestBackendFileWithOpenTofu(t *testing.T) {
	ctx := t.Context()
	b, env, srv := minioBackend(t)
	for _, own := range []string{"", "s3"} {
		t.Run("module backend "+own, func(t *testing.T) {
			s := *b.S3
			s.Key = "own-" + own + "/terraform.tfstate"
			bb := tfstate.Backend{S3: &s}
			dir := module(t, own, bb, "")
			x := tf(t, dir, env)
			require.NoError(t, x.Init(ctx, initOpts(bb)...))
			require.NoError(t, x.Apply(ctx))
			_, err := os.Stat(filepath.Join(dir, "terraform.tfstate"))
			assert.ErrorIs(t, err, os.ErrNotExist, "no local state")
			_, err = srv.S3Client(t).HeadObject(ctx, headInput(s.Bucket, s.Key))
			assert.NoError(t, err, "the state is in S3")
		})
	}
	t.Run("local over the module's s3", func(t *testing.T) {
		dir := module(t, "s3", tfstate.Backend{}, "")
		x := tf(t, dir, env)
		require.NoError(t, x.Init(ctx))
		require.NoError(t, x.Apply(ctx))
		_, err := os.Stat(filepath.Join(dir, "terraform.tfstate"))
		assert.NoError(t, err, "the state is local")
	})
}

// ReadLock reads the lock object OpenTofu holds during an apply, naming
// the user and host as Owner.Who does; and nothing once it is released.
func TestReadLock(t *testing.T) {
	ctx := t.Context()
	b, env, srv := minioBackend(t)
	gate := filepath.Join(t.TempDir(), "go")
	// The apply waits, holding the lock, until the test creates gate.
	extra := "resource \"terraform_data\" \"wait\" {\n  provisioner \"local-exec\" {\n" +
		"    command = \"while [ ! -e '" + gate + "' ]; do sleep 0.05; done\"\n  }\n}\n"
	dir := module(t, "", b, extra)
	x := tf(t, dir, env)
	require.NoError(t, x.Init(ctx, initOpts(b)...))
	c := srv.S3Client(t)

	none, err := tfstate.ReadLock(ctx, c, *b.S3)
	require.NoError(t, err)
	assert.Nil(t, none)

	done := make(chan error, 1)
	go func() { done <- x.Apply(context.Background()) }()
	var lock *tfstate.Lock
	require.Eventually(t, func() bool {
		lock, err = tfstate.ReadLock(ctx, c, *b.S3)
		return err == nil && lock != nil
	}, 2*time.Minute, 50*time.Millisecond, "the apply never took the lock (%v)", err)
	assert.Equal(t, tfstate.Self().Who(), lock.Who)
	assert.Contains(t, lock.Operation, "Apply")
	assert.NotEmpty(t, lock.ID)
	assert.True(t, strings.HasSuffix(lock.Path, b.S3.Key), lock.Path)
	assert.False(t, lock.Created.IsZero())
	assert.True(t, tfstate.Busy(dir), "the running OpenTofu has dir as its working directory")

	require.NoError(t, os.WriteFile(gate, nil, 0o644))
	require.NoError(t, <-done)
	after, err := tfstate.ReadLock(ctx, c, *b.S3)
	require.NoError(t, err)
	assert.Nil(t, after, "no lock object is left behind")
	assert.False(t, tfstate.Busy(dir))
}

func TestOwnerGone(t *testing.T) {
	self := tfstate.Self()
	require.NotEmpty(t, self.BootID, "this test needs /proc")
	assert.False(t, self.Gone(), "the calling process is running")

	cmd := exec.Command("sleep", "60")
	require.NoError(t, cmd.Start())
	alive := tfstate.OwnerOf(cmd.Process.Pid)
	assert.False(t, alive.Gone(), "a running child")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	assert.True(t, alive.Gone(), "a reaped child is gone")

	reused := self
	reused.Start++ // same pid, another process
	assert.True(t, reused.Gone(), "a pid that now belongs to another process")
	other := alive
	other.BootID = "another-boot"
	assert.False(t, other.Gone(), "nothing is proven of another boot")
	other = alive
	other.Host = "another-host"
	assert.False(t, other.Gone(), "nothing is proven of another host")
	assert.False(t, tfstate.Owner{}.Gone())
}

func headInput(bucket, key string) *s3.HeadObjectInput {
	return &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
}
