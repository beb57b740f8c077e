package main

import (
	"encoding/json"
	"io"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/ec2fake"
	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/tfvars"
)

// TestEndToEndEC2AndS3 runs the server as main does, from its flags, with
// every dependency real or speaking the real protocol: the SDK's default
// configuration chain points EC2 at the ec2fake server and S3 at a real
// MinIO (the --audit store), and a real OpenTofu applies the local module.
func TestEndToEndEC2AndS3(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu and MinIO")
	minio := miniotest.Start(t)
	bucket := minio.NewBucket(t)
	ec2 := ec2fake.New(t)
	// Not the catalog's answer for g4dn.xlarge (one T4), so that the
	// response shows where it came from.
	ec2.SetInstanceType("g4dn.xlarge", ec2fake.GPU{Manufacturer: "NVIDIA", Name: "T4-fake", Count: 2, MemoryMiB: 12345})

	// One set of credentials for both endpoints: MinIO checks them, the
	// EC2 fake only reads the signing region.
	t.Setenv("AWS_ENDPOINT_URL_EC2", ec2.URL)
	t.Setenv("AWS_ENDPOINT_URL_S3", minio.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", minio.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", minio.SecretKey)

	const prefix = "lablink/audit"
	workdir := filepath.Join(t.TempDir(), "client")
	env := testEnv()
	env["ENVIRONMENT"] = "Staging"
	// No --gpu: the default finds the credentials above and asks EC2.
	s := startRun(t, env, "--config", writeConfig(t, testConfig()), "--workdir", workdir,
		"--addr", "127.0.0.1:0", "--terraform", tofu, "--audit", "s3://"+bucket+"/"+prefix)
	assert.Zero(t, ec2.Requests(), "EC2 requests at start (GPU support is each launch's business)")
	c := s.client()

	r1 := c.launch(2)
	r2 := c.launch(3)
	if t.Failed() {
		t.FailNow()
	}
	assert.Equal(t, 0, r1.Existing, "launch 2: %+v", r1)
	assert.Equal(t, 2, r1.Total, "launch 2: %+v", r1)
	assert.Equal(t, 2, r1.Plan.Create, "launch 2: %+v", r1)
	assert.Equal(t, "http://203.0.113.10", r1.AllocatorURL, "launch 2: ssl.provider none")
	assert.Equal(t, 2, r2.Existing, "launch 3: %+v", r2)
	assert.Equal(t, 5, r2.Total, "launch 3: %+v", r2)
	assert.Equal(t, 3, r2.Plan.Create, "launch 3: %+v", r2)
	assert.Zero(t, r2.Plan.Delete+r2.Plan.Replace, "launch 3 deletes or replaces: %+v", r2)
	// EC2 answered (the catalog knows one T4, not the fake's two): the
	// audit record, which the answer comes from, names EC2's API.
	wantGPU := gpuJSON{InstanceType: "g4dn.xlarge", NVIDIA: true, Source: string(gpu.SourceAPI)}
	for i, r := range []launchResponse{r1, r2} {
		assert.Equal(t, wantGPU, r.GPU, "launch %d: GPU answer", i+1)
	}
	// The detector's cache answered the second launch.
	assert.Equal(t, 1, ec2.Requests(), "DescribeInstanceTypes requests")
	assert.Equal(t, []string{"us-west-2"}, ec2.Regions(), "regions EC2 was asked in")
	assert.Equal(t, 5, instanceCount(t, filepath.Join(workdir, "terraform.runtime.tfvars")), "runtime tfvars: instance_count")

	// The audit trail is in MinIO, under the prefix, for the normalized
	// ENVIRONMENT ("staging").
	s3c := minio.S3Client(t)
	get := func(key string) (body []byte, contentType string) {
		t.Helper()
		out, err := s3c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if !assert.NoError(t, err, "get s3://%s/%s", bucket, key) {
			return nil, ""
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		assert.NoError(t, err, "read s3://%s/%s", bucket, key)
		return b, aws.ToString(out.ContentType)
	}
	latest, ct := get(path.Join(prefix, audit.LatestKey("staging")))
	assert.True(t, strings.HasPrefix(ct, "text/plain"), "latest copy: content type %q, want text/plain", ct)
	vals, err := tfvars.Parse(latest, tfvars.HCL)
	if assert.NoError(t, err, "latest copy does not parse:\n%s", latest) {
		v := vals["instance_count"]
		assert.True(t, v != cty.NilVal && v.Type().Equals(cty.Number) && v.Equals(cty.NumberIntVal(5)).True(),
			"latest copy: instance_count = %#v, want 5", v)
		assert.Equal(t, cty.StringVal(testkit.SecurityGroup), vals["allocator_sg_id"], "latest copy: allocator_sg_id")
		assert.Equal(t, cty.StringVal("sleap-lablink-client-staging"), vals["resource_prefix"], "latest copy: resource_prefix")
	}

	history := path.Join(prefix, "staging/client/history") + "/"
	var keys []string
	p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(history)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		for _, o := range page.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(o.Key), history))
		}
	}
	var want []string
	for _, id := range []string{r1.LaunchID, r2.LaunchID} {
		for _, name := range []string{audit.AttemptName, audit.ManifestName, audit.TFVarsName} {
			want = append(want, id+"/"+name)
		}
	}
	assert.ElementsMatch(t, want, keys, "history objects")
	for _, r := range []launchResponse{r1, r2} {
		key := path.Join(prefix, audit.HistoryPrefix("staging", r.LaunchID), audit.ManifestName)
		body, _ := get(key)
		var m audit.Manifest
		if !assert.NoError(t, json.Unmarshal(body, &m), "manifest of %s:\n%s", r.LaunchID, body) {
			continue
		}
		assert.Equal(t, audit.OutcomeSucceeded, m.Outcome, "manifest of %s", r.LaunchID)
		assert.Equal(t, r.Total, m.Total, "manifest of %s", r.LaunchID)
		assert.Equal(t, r.Existing, m.Existing, "manifest of %s", r.LaunchID)
		assert.Equal(t, r.TFVarsSHA256, m.TFVarsSHA256, "manifest of %s", r.LaunchID)
		assert.Equal(t, testUser, m.Actor, "manifest of %s", r.LaunchID)
		if assert.NotNil(t, m.GPU, "manifest of %s: GPU", r.LaunchID) {
			assert.True(t, m.GPU.NVIDIA, "manifest of %s: GPU %+v", r.LaunchID, m.GPU)
			assert.Equal(t, "g4dn.xlarge", m.GPU.InstanceType, "manifest of %s", r.LaunchID)
		}
	}
	assert.Equal(t, 1, ec2.Requests(), "EC2 requests in all")
	assert.Equal(t, exitOK, s.shutdown(), "exit code after shutdown")
}
