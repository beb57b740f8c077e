package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/internal/testkit"
)

// *s3.Client must satisfy the narrow interfaces: S3API embeds
// PutObjectAPIClient, GetObjectAPIClient and s3.ListObjectsV2APIClient.
var _ audit.S3API = (*s3.Client)(nil)

// Clients with fewer methods than *s3.Client, made from one: a struct that
// embeds interfaces has only their methods, so NewS3Store's type assertions
// see exactly these.
type (
	putOnly struct{ audit.PutObjectAPIClient }
	putGet  struct {
		audit.PutObjectAPIClient
		audit.GetObjectAPIClient
	}
	putList struct {
		audit.PutObjectAPIClient
		s3.ListObjectsV2APIClient
	}
)

// NewS3Store needs only PutObject: every write works with any client, and
// each read works when the client has its method and otherwise fails with
// ErrNotReadable, naming the object.
func TestS3StoreClientMethods(t *testing.T) {
	srv := miniotest.Shared(t)
	full := srv.S3Client(t)
	tests := []struct {
		name            string
		client          audit.PutObjectAPIClient
		canGet, canList bool
	}{
		{name: "s3.Client", client: full, canGet: true, canList: true},
		{name: "PutObject", client: putOnly{full}},
		{name: "PutObject+GetObject", client: putGet{full, full}, canGet: true},
		{name: "PutObject+ListObjectsV2", client: putList{full, full}, canList: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			bucket := srv.NewBucket(t)
			opts := &audit.S3Options{Prefix: "audit"}
			s := audit.NewS3Store(tt.client, bucket, opts)
			tr := audit.NewTrail(s, &audit.Options{Now: func() time.Time { return t0 }, NewID: (&fakeIDs{}).Next})

			m, err := tr.Begin(ctx, launch("dev"), []byte("history copy"))
			require.NoError(t, err, "Begin")
			m.Outcome = audit.OutcomeSucceeded
			_, err = tr.Finish(ctx, m, []byte("latest copy"))
			require.NoError(t, err, "Finish")
			// Everything landed, as a reader with every method sees.
			reader := audit.NewS3Store(full, bucket, opts)
			checkKeys(t, reader, []string{
				launch1Index,
				"dev/client/history/launch-1/attempt.json",
				"dev/client/history/launch-1/manifest.json",
				"dev/client/history/launch-1/terraform.runtime.tfvars",
				"dev/client/terraform.runtime.tfvars",
			})
			mustGet(t, reader, audit.LatestKey("dev"), "latest copy")

			want := "s3://" + bucket + "/audit/dev/client/"
			_, err = s.Get(ctx, audit.LatestKey("dev"))
			checkReadable(t, "Get", err, tt.canGet, want)
			_, err = s.List(ctx, "dev/client/", audit.ListOptions{})
			checkReadable(t, "List", err, tt.canList, want)
			_, _, err = tr.List(ctx, "dev", audit.HistoryQuery{})
			checkReadable(t, "Trail.List", err, tt.canList && tt.canGet, want)
			_, _, err = tr.Show(ctx, "dev", m.LaunchID)
			checkReadable(t, "Trail.Show", err, tt.canGet, want)
			// Only *s3.Client has DeleteObject here.
			if err := s.Delete(ctx, "dev/client/gone"); tt.canGet && tt.canList {
				assert.NoError(t, err, "Delete")
			} else {
				assert.ErrorIs(t, err, errors.ErrUnsupported, "Delete")
				assert.ErrorContains(t, err, want, "Delete: the error names the object")
			}
		})
	}
}

// checkReadable checks the error of a read: nil when the client can read,
// else ErrNotReadable with a message naming an object under location.
func checkReadable(t *testing.T, op string, err error, can bool, location string) {
	t.Helper()
	if can {
		assert.NoError(t, err, op)
		return
	}
	assert.ErrorIs(t, err, audit.ErrNotReadable, op)
	assert.ErrorContains(t, err, location, "%s: the error names the object", op)
}

func sha256Base64(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestS3StoreObjectMetadata(t *testing.T) {
	srv := miniotest.Shared(t)
	tests := []struct {
		name    string
		opts    *audit.S3Options
		create  bool
		wantKey string
		wantSSE types.ServerSideEncryption
	}{
		{name: "put", opts: nil, wantKey: "dev/client/terraform.runtime.tfvars"},
		{name: "create", opts: &audit.S3Options{}, create: true, wantKey: "dev/client/terraform.runtime.tfvars"},
		{name: "prefix", opts: &audit.S3Options{Prefix: "/a/b/"}, wantKey: "a/b/dev/client/terraform.runtime.tfvars"},
		{name: "kms-put", opts: &audit.S3Options{KMSKeyID: srv.KMSKeyID}, wantKey: "dev/client/terraform.runtime.tfvars", wantSSE: types.ServerSideEncryptionAwsKms},
		{name: "kms-create", opts: &audit.S3Options{KMSKeyID: srv.KMSKeyID}, create: true, wantKey: "dev/client/terraform.runtime.tfvars", wantSSE: types.ServerSideEncryptionAwsKms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := srv.NewBucket(t)
			s := audit.NewS3Store(srv.S3Client(t), bucket, tt.opts)
			body := []byte("machine_type = \"g4dn.xlarge\"\n")
			write := s.Put
			if tt.create {
				write = s.Create
			}
			require.NoError(t, write(t.Context(), audit.LatestKey("dev"), body, audit.ContentTypeTFVars))
			checkObjectMetadata(t, srv, bucket, tt.wantKey, body, tt.wantSSE)
			mustGet(t, s, audit.LatestKey("dev"), string(body))
		})
	}
}

// checkObjectMetadata checks what HeadObject and GetObject say of the
// object stored under key: text/plain, the SHA-256 checksum of body, and
// SSE-KMS with the server's key when sse says so.
func checkObjectMetadata(t *testing.T, srv *miniotest.Server, bucket, key string, body []byte, sse types.ServerSideEncryption) {
	t.Helper()
	client := srv.S3Client(t)
	head, err := client.HeadObject(t.Context(), &s3.HeadObjectInput{
		Bucket:       aws.String(bucket),
		Key:          aws.String(key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	require.NoError(t, err, "HeadObject")
	assert.Equal(t, "text/plain", aws.ToString(head.ContentType), "ContentType")
	assert.Equal(t, sha256Base64(body), aws.ToString(head.ChecksumSHA256), "HeadObject ChecksumSHA256")
	assert.Equal(t, sse, head.ServerSideEncryption, "ServerSideEncryption")
	if sse != "" {
		assert.True(t, strings.HasSuffix(aws.ToString(head.SSEKMSKeyId), srv.KMSKeyID),
			"SSEKMSKeyId = %q, want the key %q", aws.ToString(head.SSEKMSKeyId), srv.KMSKeyID)
	}
	get, err := client.GetObject(t.Context(), &s3.GetObjectInput{
		Bucket:       aws.String(bucket),
		Key:          aws.String(key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	require.NoError(t, err, "GetObject")
	require.NoError(t, get.Body.Close())
	assert.Equal(t, sha256Base64(body), aws.ToString(get.ChecksumSHA256), "GetObject ChecksumSHA256")
}

// The server, not only the SDK, checks the checksum S3Store sends: a body
// that does not match is refused. This pins the MinIO behaviour the audit
// trail relies on.
func TestS3ServerRejectsWrongChecksum(t *testing.T) {
	srv := miniotest.Shared(t)
	client := srv.S3Client(t)
	bucket := srv.NewBucket(t)
	_, err := client.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket:            aws.String(bucket),
		Key:               aws.String("k"),
		Body:              bytes.NewReader([]byte("actual body")),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(sha256Base64([]byte("other body"))),
	})
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae, "PutObject with a wrong checksum")
	t.Logf("MinIO answered %s: %s", ae.ErrorCode(), ae.ErrorMessage())
	s := audit.NewS3Store(client, bucket, nil)
	_, err = s.Get(t.Context(), "k")
	assert.ErrorIs(t, err, audit.ErrNotFound, "Get after a refused write")
}

func TestS3ServerDown(t *testing.T) {
	srv := miniotest.Start(t) // its own server: Stop would break the shared one
	client := srv.S3Client(t)
	bucket := srv.NewBucket(t)
	trail := audit.NewTrail(audit.NewS3Store(client, bucket, nil), nil)
	srv.Stop()

	// The deadline only keeps a hang from blocking the run; the test
	// asserts that an error arrives before it, whatever the time.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	_, err := trail.Begin(ctx, audit.Manifest{Environment: "dev", Action: audit.Launch}, []byte("x"))
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr, "Begin with the server down")
	require.NotErrorIs(t, err, context.DeadlineExceeded, "Begin: want a network error before the deadline")
	assert.ErrorContains(t, err, "s3://"+bucket+"/dev/client/history/", "the error names the object")
	_, _, err = trail.List(ctx, "dev", audit.HistoryQuery{})
	assert.ErrorAs(t, err, &opErr, "List")
}

// failingClient is a client for srv whose PUTs for which fail returns true
// are answered with a 500 S3 error, without reaching the server.
func failingClient(t *testing.T, srv *miniotest.Server, fail func(*http.Request) bool) *s3.Client {
	t.Helper()
	p := newS3Proxy(t, srv, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodPut && fail(r) {
			writeS3Error(w, http.StatusInternalServerError, "InternalError")
			return
		}
		next.ServeHTTP(w, r)
	})
	return p.client(t, srv, func(o *s3.Options) { o.RetryMaxAttempts = 2 })
}

// serverErrorFixture is a bucket holding one successful launch, read
// directly, and the trail options the tests of failed writes share.
type serverErrorFixture struct {
	srv    *miniotest.Server
	bucket string
	direct audit.Store
	good   *audit.Trail // writes directly
	opts   *audit.Options
	first  audit.Manifest
}

func newServerErrorFixture(t *testing.T) *serverErrorFixture {
	srv := miniotest.Shared(t)
	f := &serverErrorFixture{srv: srv, bucket: srv.NewBucket(t)}
	f.direct = audit.NewS3Store(srv.S3Client(t), f.bucket, nil)
	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	f.opts = &audit.Options{Now: clock.Now, NewID: (&fakeIDs{}).Next}
	f.good = audit.NewTrail(f.direct, f.opts)
	m, err := f.good.Begin(t.Context(), launch("dev"), []byte("v1"))
	require.NoError(t, err)
	m.Outcome = audit.OutcomeSucceeded
	_, err = f.good.Finish(t.Context(), m, []byte("v1"))
	require.NoError(t, err)
	f.first = m
	return f
}

// through is a Trail on the fixture's bucket whose PUTs go through
// failingClient(fail).
func (f *serverErrorFixture) through(t *testing.T, fail func(*http.Request) bool) *audit.Trail {
	return audit.NewTrail(audit.NewS3Store(failingClient(t, f.srv, fail), f.bucket, nil), f.opts)
}

func TestS3ServerError(t *testing.T) {
	f := newServerErrorFixture(t)
	t.Run("AllPuts", func(t *testing.T) { testFailedBegin(t, f) })
	t.Run("ManifestPut", func(t *testing.T) { testFailedFinish(t, f) })
	t.Run("AttemptPut", func(t *testing.T) { testHalfBegin(t, f) })
}

// A Begin whose every PUT fails reports the 500 and changes nothing.
func testFailedBegin(t *testing.T, f *serverErrorFixture) {
	ctx := t.Context()
	before, err := f.direct.List(ctx, "", audit.ListOptions{})
	require.NoError(t, err)
	tr := f.through(t, func(*http.Request) bool { return true })
	_, err = tr.Begin(ctx, launch("dev"), []byte("v2"))
	var re *smithyhttp.ResponseError
	require.ErrorAs(t, err, &re, "Begin")
	assert.Equal(t, http.StatusInternalServerError, re.HTTPStatusCode())
	// Reads through the proxy still work, and see the first launch only.
	ms, _, err := tr.List(ctx, "dev", audit.HistoryQuery{})
	require.NoError(t, err)
	assert.Equal(t, []string{f.first.LaunchID}, launchIDs(ms))
	after, err := f.direct.List(ctx, "", audit.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, before, after, "a failed Begin changed the bucket")
}

// Begin directly, then Finish through a proxy that refuses the manifest:
// the latest copy stays the first launch's and the attempt shows started.
func testFailedFinish(t *testing.T, f *serverErrorFixture) {
	ctx := t.Context()
	m2, err := f.good.Begin(ctx, launch("dev"), []byte("v2"))
	require.NoError(t, err)
	tr := f.through(t, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/"+audit.ManifestName) })
	m2.Outcome = audit.OutcomeSucceeded
	_, err = tr.Finish(ctx, m2, []byte("v2"))
	require.Error(t, err, "Finish through a failing proxy")
	mustGet(t, f.direct, audit.LatestKey("dev"), "v1")
	got, _, err := f.good.Show(ctx, "dev", m2.LaunchID)
	require.NoError(t, err)
	assert.Equal(t, audit.OutcomeStarted, got.Outcome)
}

// The tfvars lands but attempt.json does not: the attempt is not listed,
// and Show does not find it.
func testHalfBegin(t *testing.T, f *serverErrorFixture) {
	ctx := t.Context()
	tr := f.through(t, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/"+audit.AttemptName) })
	m3, err := tr.Begin(ctx, launch("dev"), []byte("v3"))
	require.Error(t, err, "Begin through a failing proxy")
	ms, _, err := f.good.List(ctx, "dev", audit.HistoryQuery{})
	require.NoError(t, err)
	assert.NotContains(t, launchIDs(ms), m3.LaunchID, "List shows the half-written attempt")
	_, _, err = f.good.Show(ctx, "dev", m3.LaunchID)
	assert.ErrorIs(t, err, audit.ErrNotFound, "Show")
}

func launchIDs(ms []audit.Manifest) []string {
	ids := []string{}
	for _, m := range ms {
		ids = append(ids, m.LaunchID)
	}
	return ids
}
