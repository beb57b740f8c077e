package main

import (
	"encoding/json"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/ec2fake"
	"github.com/lablink-go/lablink/internal/miniotest"
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
	env := map[string]string{"ALLOCATOR_PUBLIC_IP": "203.0.113.10", "ENVIRONMENT": "Staging"}
	// No --gpu: the default finds the credentials above and asks EC2.
	s := startRun(t, env, "--config", writeConfig(t, testConfig()), "--workdir", workdir,
		"--addr", "127.0.0.1:0", "--terraform", tofu, "--audit", "s3://"+bucket+"/"+prefix)
	if n := ec2.Requests(); n != 0 {
		t.Errorf("EC2 was asked %d times at start, want 0 (GPU support is each launch's business)", n)
	}
	c := s.client()

	r1 := c.launch(2)
	r2 := c.launch(3)
	if t.Failed() {
		t.FailNow()
	}
	if r1.Existing != 0 || r1.Total != 2 || r1.Plan.Create != 2 || r1.AllocatorURL != "https://203.0.113.10" {
		t.Errorf("launch 2: %+v", r1)
	}
	if r2.Existing != 2 || r2.Total != 5 || r2.Plan.Create != 3 || r2.Plan.Delete+r2.Plan.Replace != 0 {
		t.Errorf("launch 3: %+v", r2)
	}
	wantGPU := gpuJSON{InstanceType: "g4dn.xlarge", NVIDIA: true, Source: string(gpu.SourceAPI), Region: "us-west-2",
		GPUs: []gpuDevJSON{{Manufacturer: "NVIDIA", Name: "T4-fake", Count: 2, MemoryMiB: 12345}}}
	for i, r := range []launchResponse{r1, r2} {
		if diff := cmp.Diff(wantGPU, r.GPU); diff != "" {
			t.Errorf("launch %d: GPU answer (-want +got):\n%s", i+1, diff)
		}
	}
	// The detector's cache answered the second launch.
	if n, regions := ec2.Requests(), ec2.Regions(); n != 1 || !slices.Equal(regions, []string{"us-west-2"}) {
		t.Errorf("EC2 saw %d DescribeInstanceTypes requests in regions %v, want 1 in us-west-2", n, regions)
	}
	if got := instanceCount(t, filepath.Join(workdir, "terraform.runtime.tfvars")); got != 5 {
		t.Errorf("runtime tfvars: instance_count = %d, want 5", got)
	}

	// The audit trail is in MinIO, under the prefix, for the normalized
	// ENVIRONMENT ("staging").
	s3c := minio.S3Client(t)
	get := func(key string) (body []byte, contentType string) {
		t.Helper()
		out, err := s3c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Errorf("get s3://%s/%s: %v", bucket, key, err)
			return nil, ""
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		if err != nil {
			t.Errorf("read s3://%s/%s: %v", bucket, key, err)
		}
		return b, aws.ToString(out.ContentType)
	}
	latest, ct := get(path.Join(prefix, audit.LatestKey("staging")))
	if !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("latest copy: content type %q, want text/plain", ct)
	}
	if vals, err := tfvars.Parse(latest, tfvars.HCL); err != nil {
		t.Errorf("latest copy does not parse: %v\n%s", err, latest)
	} else if v := vals["instance_count"]; v == cty.NilVal || !v.Type().Equals(cty.Number) || !v.Equals(cty.NumberIntVal(5)).True() {
		t.Errorf("latest copy: instance_count = %#v, want 5", v)
	}

	history := path.Join(prefix, "staging/client/history") + "/"
	var keys []string
	p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(history)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
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
	slices.Sort(want)
	slices.Sort(keys)
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("history objects (-want +got):\n%s", diff)
	}
	for _, r := range []launchResponse{r1, r2} {
		key := path.Join(prefix, audit.HistoryPrefix("staging", r.LaunchID), audit.ManifestName)
		if want := "s3://" + bucket + "/" + key; r.Audit != want {
			t.Errorf("launch %s: audit %q, want %q", r.LaunchID, r.Audit, want)
		}
		body, _ := get(key)
		var m audit.Manifest
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("manifest of %s: %v\n%s", r.LaunchID, err, body)
			continue
		}
		if m.Outcome != audit.OutcomeSucceeded || m.Total != r.Total || m.Existing != r.Existing ||
			m.TFVarsSHA256 != r.TFVarsSHA256 || m.Actor != testUser {
			t.Errorf("manifest of %s: %+v, want a success matching %+v", r.LaunchID, m, r)
		}
		if m.GPU == nil || !m.GPU.NVIDIA || m.GPU.InstanceType != "g4dn.xlarge" {
			t.Errorf("manifest of %s: GPU %+v", r.LaunchID, m.GPU)
		}
	}
	if n := ec2.Requests(); n != 1 {
		t.Errorf("EC2 saw %d requests in all, want 1", n)
	}
	if code := s.shutdown(); code != exitOK {
		t.Errorf("exit code %d after shutdown, want %d", code, exitOK)
	}
}
