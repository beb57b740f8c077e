package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/internal/tofutest"
)

// minioAWS starts a MinIO for t and points the SDK's standard chain at it,
// the way an operator points the CLI at an S3-compatible store: the
// endpoint, the credentials and the region come from the environment only.
// Tests that call it cannot run in parallel.
func minioAWS(t *testing.T) *miniotest.Server {
	t.Helper()
	noAWS(t)
	srv := miniotest.Start(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_REGION", miniotest.Region)
	return srv
}

// listRow is one parsed row of "audit list".
type listRow struct {
	ID, Started, Operation, Outcome string
	VMs, Actor                      string
}

var listRowRE = regexp.MustCompile(`^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+ existing \+ \d+ requested = \d+)\s*(\S*)$`)

// parseList parses the table "audit list" prints, checking its header.
func parseList(t *testing.T, out string) []listRow {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !regexp.MustCompile(`^LAUNCH ID\s+STARTED\s+OPERATION\s+OUTCOME\s+VMS\s+ACTOR$`).MatchString(lines[0]) {
		t.Fatalf("audit list header %q", lines[0])
	}
	rows := []listRow{}
	for _, l := range lines[1:] {
		m := listRowRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("audit list row %q does not parse", l)
		}
		rows = append(rows, listRow{m[1], m[2], m[3], m[4], m[5], m[6]})
	}
	return rows
}

// parseShow splits the output of "audit show" into the manifest (indented
// JSON, which holds no blank line) and the stored tfvars after the blank
// line.
func parseShow(t *testing.T, out string) (audit.Manifest, string) {
	t.Helper()
	js, tfvars, ok := strings.Cut(out, "\n\n")
	if !ok {
		t.Fatalf("audit show output has no blank line:\n%s", out)
	}
	var m audit.Manifest
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("audit show manifest: %v\n%s", err, js)
	}
	return m, tfvars
}

// TestAuditS3 reads back, through the CLI, a trail that the audit package
// wrote to MinIO under a prefix. The CLI builds its S3 client from the
// SDK's standard chain, so this is also the test that AWS_ENDPOINT_URL_S3
// and the credential variables reach it, and that the addressing works
// with an S3-compatible server on 127.0.0.1.
func TestAuditS3(t *testing.T) {
	srv := minioAWS(t)
	bucket := srv.NewBucket(t)
	ctx := t.Context()

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	n := 0
	tr := audit.NewTrail(audit.NewS3Store(srv.S3Client(t), bucket, &audit.S3Options{Prefix: "lablink/audit"}), &audit.Options{
		Now:   func() time.Time { return now },
		NewID: func() string { n++; return fmt.Sprintf("launch-%d", n) },
	})
	record := func(env string, requested, existing int, outcome audit.Outcome, tfvars string) audit.Manifest {
		t.Helper()
		m, err := tr.Begin(ctx, audit.Manifest{
			Environment: env, Action: audit.Launch, Actor: "tester",
			Requested: requested, Existing: existing, Total: requested + existing,
			ConfigDigest: audit.Digest([]byte("config")),
			Variables: []audit.VariableSource{
				{Name: "allocator_ip", Source: "flag --allocator-ip", Sensitive: true, Redacted: true},
				{Name: "instance_count", Source: "launch"},
			},
		}, []byte(tfvars))
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Minute)
		m.Outcome = outcome
		if outcome == audit.OutcomeFailed {
			m.Error = "apply failed"
		}
		if _, err := tr.Finish(ctx, m, []byte(tfvars)); err != nil {
			t.Fatal(err)
		}
		m.Finished, m.Duration = now, "2m0s"
		now = now.Add(time.Hour)
		return m
	}
	first := record("dev", 2, 0, audit.OutcomeSucceeded, "allocator_ip = \"(sensitive)\"\ninstance_count = 2\n")
	second := record("dev", 3, 2, audit.OutcomeFailed, "allocator_ip = \"(sensitive)\"\ninstance_count = 5\n")
	record("prod", 1, 0, audit.OutcomeSucceeded, "instance_count = 1\n")

	store := "s3://" + bucket + "/lablink/audit"
	r := runCLI(t, nil, "audit", "list", "--store", store, "--environment", "dev")
	if r.code != 0 {
		t.Fatalf("audit list: %v", r)
	}
	want := []listRow{
		{second.LaunchID, "2026-03-01T13:02:00Z", "launch", "failed", "2 existing + 3 requested = 5", "tester"},
		{first.LaunchID, "2026-03-01T12:00:00Z", "launch", "succeeded", "0 existing + 2 requested = 2", "tester"},
	}
	if diff := cmp.Diff(want, parseList(t, r.stdout)); diff != "" {
		t.Errorf("audit list mismatch (-want +got):\n%s", diff)
	}

	// The environment comes from $ENVIRONMENT when --environment is absent.
	r = runCLI(t, map[string]string{"ENVIRONMENT": "dev"}, "audit", "show", "--store", store, first.LaunchID)
	if r.code != 0 {
		t.Fatalf("audit show: %v", r)
	}
	gotM, gotTF := parseShow(t, r.stdout)
	if diff := cmp.Diff(first, gotM); diff != "" {
		t.Errorf("audit show manifest mismatch (-want +got):\n%s", diff)
	}
	if want := "allocator_ip = \"(sensitive)\"\ninstance_count = 2\n"; gotTF != want {
		t.Errorf("audit show tfvars = %q, want %q", gotTF, want)
	}

	// The records of one environment do not show in another.
	r = runCLI(t, nil, "audit", "list", "--store", store, "--environment", "staging")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, `no launches recorded for environment "staging" in `+store) {
		t.Errorf("audit list of an empty environment: %v", r)
	}
	r = runCLI(t, nil, "audit", "show", "--store", store, "--environment", "prod", first.LaunchID)
	if r.code != exitInvalid || !strings.Contains(r.stderr, "audit show: "+first.LaunchID+`: no audit record of environment "prod" in `+store) {
		t.Errorf("audit show of another environment's launch: %v", r)
	}

	// A wrong prefix holds nothing; a missing bucket is an error that
	// names it.
	r = runCLI(t, nil, "audit", "list", "--store", "s3://"+bucket, "--environment", "dev")
	if r.code != 0 || !strings.Contains(r.stderr, "no launches recorded") {
		t.Errorf("audit list at the bucket root: %v", r)
	}
	r = runCLI(t, nil, "audit", "list", "--store", "s3://no-such-bucket-"+strings.ToLower(bucket), "--environment", "dev")
	if r.code != exitFailure || !strings.Contains(r.stderr, "no-such-bucket-") || !strings.Contains(r.stderr, "NoSuchBucket") {
		t.Errorf("audit list of a missing bucket: %v", r)
	}
}

// TestLaunchAuditS3 launches with a real OpenTofu and an S3 audit store on
// MinIO, then reads the record back through the CLI: the sensitive
// variables of the module (allocator_ip, allocator_url and both tokens)
// are redacted in the store, as they are in the directory store.
func TestLaunchAuditS3(t *testing.T) {
	srv := minioAWS(t)
	bucket := srv.NewBucket(t)
	bin := tofutest.Binary(t)
	tofuEnv(t)
	const ip = "203.0.113.77"
	store := "s3://" + bucket + "/audit"
	work := t.TempDir()
	r := runCLI(t, map[string]string{"ALLOCATOR_SG_ID": sg}, "launch", "--count", "2", "--gpu", "catalog",
		"--allocator-ip", ip, "--actor", "tester", "--workdir", work, "--terraform", bin, "--audit", store)
	require.Equal(t, exitOK, r.code, "launch: %v", r)
	assert.Regexp(t, `(?m)^audit:\s+`+regexp.QuoteMeta(store)+`/\S+/client/history/\S+/manifest\.json$`, r.stdout,
		"the launch summary points into the S3 store")

	r = runCLI(t, nil, "audit", "list", "--store", store)
	require.Equal(t, exitOK, r.code, "audit list: %v", r)
	rows := parseList(t, r.stdout)
	require.Len(t, rows, 1, "audit list:\n%s", r.stdout)
	assert.Equal(t, "succeeded", rows[0].Outcome)
	assert.Equal(t, "0 existing + 2 requested = 2", rows[0].VMs)
	assert.Equal(t, "tester", rows[0].Actor)

	r = runCLI(t, nil, "audit", "show", "--store", store, rows[0].ID)
	require.Equal(t, exitOK, r.code, "audit show: %v", r)
	m, tfvars := parseShow(t, r.stdout)
	redacted := map[string]bool{}
	for _, v := range m.Variables {
		if v.Redacted {
			redacted[v.Name] = true
		}
	}
	sensitive := []string{"allocator_ip", "allocator_url", "agent_token", "register_token"}
	want := map[string]bool{}
	for _, name := range sensitive {
		want[name] = true
		assert.Regexp(t, `(?m)^`+name+`\s*=\s*"\(sensitive\)"$`, tfvars, "the stored tfvars redacts %s", name)
	}
	assert.Equal(t, want, redacted, "redacted variables")
	assert.Regexp(t, `(?m)^instance_count\s*=\s*2$`, tfvars)
	assert.Regexp(t, `(?m)^allocator_sg_id\s*=\s*"`+sg+`"$`, tfvars, "the security group is not secret")

	// No object of the store holds a sensitive value, whatever its key.
	tokens, err := clientvars.WorkdirTokens(work)
	require.NoError(t, err)
	secrets := []string{ip, tokens.Agent, tokens.Register}
	client := srv.S3Client(t)
	list, err := client.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	var keys []string
	for _, o := range list.Contents {
		key := aws.ToString(o.Key)
		keys = append(keys, key)
		out, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		require.NoError(t, err)
		body, err := io.ReadAll(out.Body)
		out.Body.Close()
		require.NoError(t, err)
		for _, secret := range secrets {
			assert.NotContains(t, string(body), secret, "%s holds a secret", key)
		}
	}
	require.Len(t, keys, 9, "three history objects and the history index (entry, marker), the latest copy, "+
		"the operation record and its status entry, the operations' layout marker: %q", keys)
	assert.True(t, strings.HasSuffix(keys[len(keys)-1], "/client/terraform.runtime.tfvars"), "bucket keys %q", keys)
}
