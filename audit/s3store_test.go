package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/miniotest"
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
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			m.Outcome = audit.OutcomeSucceeded
			if _, err := tr.Finish(ctx, m, []byte("latest copy")); err != nil {
				t.Fatalf("Finish: %v", err)
			}
			// Everything landed, as a reader with every method sees.
			reader := audit.NewS3Store(full, bucket, opts)
			checkKeys(t, reader, []string{
				"dev/client/history/launch-1/attempt.json",
				"dev/client/history/launch-1/manifest.json",
				"dev/client/history/launch-1/terraform.runtime.tfvars",
				"dev/client/terraform.runtime.tfvars",
			})
			mustGet(t, reader, audit.LatestKey("dev"), "latest copy")

			want := "s3://" + bucket + "/audit/dev/client/"
			_, err = s.Get(ctx, audit.LatestKey("dev"))
			checkReadable(t, "Get", err, tt.canGet, want)
			_, err = s.List(ctx, "dev/client/")
			checkReadable(t, "List", err, tt.canList, want)
			_, err = tr.List(ctx, "dev")
			checkReadable(t, "Trail.List", err, tt.canList && tt.canGet, want)
			_, _, err = tr.Show(ctx, "dev", m.LaunchID)
			checkReadable(t, "Trail.Show", err, tt.canGet, want)
		})
	}
}

// checkReadable checks the error of a read: nil when the client can read,
// else ErrNotReadable with a message naming an object under location.
func checkReadable(t *testing.T, op string, err error, can bool, location string) {
	t.Helper()
	switch {
	case can && err != nil:
		t.Errorf("%s: %v", op, err)
	case !can && !errors.Is(err, audit.ErrNotReadable):
		t.Errorf("%s: got %v, want ErrNotReadable", op, err)
	case !can && !strings.Contains(err.Error(), location):
		t.Errorf("%s: error %q does not name the object under %s", op, err, location)
	}
}

func sha256Base64(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestS3StoreObjectMetadata(t *testing.T) {
	srv := miniotest.Shared(t)
	client := srv.S3Client(t)
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
			ctx := t.Context()
			bucket := srv.NewBucket(t)
			s := audit.NewS3Store(client, bucket, tt.opts)
			body := []byte("machine_type = \"g4dn.xlarge\"\n")
			write := s.Put
			if tt.create {
				write = s.Create
			}
			if err := write(ctx, audit.LatestKey("dev"), body, audit.ContentTypeTFVars); err != nil {
				t.Fatalf("write: %v", err)
			}
			head, err := client.HeadObject(ctx, &s3.HeadObjectInput{
				Bucket:       aws.String(bucket),
				Key:          aws.String(tt.wantKey),
				ChecksumMode: types.ChecksumModeEnabled,
			})
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			type meta struct {
				ContentType, ChecksumSHA256 string
				SSE                         types.ServerSideEncryption
			}
			want := meta{ContentType: "text/plain", ChecksumSHA256: sha256Base64(body), SSE: tt.wantSSE}
			got := meta{aws.ToString(head.ContentType), aws.ToString(head.ChecksumSHA256), head.ServerSideEncryption}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("HeadObject mismatch (-want +got):\n%s", diff)
			}
			if tt.wantSSE != "" && !strings.HasSuffix(aws.ToString(head.SSEKMSKeyId), srv.KMSKeyID) {
				t.Errorf("SSEKMSKeyId = %q, want the key %q", aws.ToString(head.SSEKMSKeyId), srv.KMSKeyID)
			}

			get, err := client.GetObject(ctx, &s3.GetObjectInput{
				Bucket:       aws.String(bucket),
				Key:          aws.String(tt.wantKey),
				ChecksumMode: types.ChecksumModeEnabled,
			})
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			get.Body.Close()
			if got := aws.ToString(get.ChecksumSHA256); got != sha256Base64(body) {
				t.Errorf("GetObject ChecksumSHA256 = %q, want %q", got, sha256Base64(body))
			}
			mustGet(t, s, audit.LatestKey("dev"), string(body))
		})
	}
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
	if !errors.As(err, &ae) {
		t.Fatalf("PutObject with a wrong checksum: got %v, want an API error", err)
	}
	t.Logf("MinIO answered %s: %s", ae.ErrorCode(), ae.ErrorMessage())
	s := audit.NewS3Store(client, bucket, nil)
	if _, err := s.Get(t.Context(), "k"); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("Get after a refused write: got %v, want ErrNotFound", err)
	}
}

// ErrExists must keep the SDK error reachable for callers that want the
// status code.
func TestS3CreateExistsWrapsAPIError(t *testing.T) {
	srv := miniotest.Shared(t)
	s := audit.NewS3Store(srv.S3Client(t), srv.NewBucket(t), nil)
	ctx := t.Context()
	if err := s.Create(ctx, "k", []byte("1"), audit.ContentTypeJSON); err != nil {
		t.Fatal(err)
	}
	err := s.Create(ctx, "k", []byte("2"), audit.ContentTypeJSON)
	var re *smithyhttp.ResponseError
	if !errors.Is(err, audit.ErrExists) || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusPreconditionFailed {
		t.Fatalf("got %v, want ErrExists wrapping a 412 response", err)
	}
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
	_, err := trail.Begin(ctx, audit.Manifest{Environment: "dev", Operation: audit.OperationLaunch}, []byte("x"))
	if err == nil {
		t.Fatal("Begin with the server down succeeded")
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Begin: got %v, want a network error before the deadline", err)
	}
	if !strings.Contains(err.Error(), "s3://"+bucket+"/dev/client/history/") {
		t.Errorf("error %q does not name the object", err)
	}
	if _, err := trail.List(ctx, "dev"); !errors.As(err, &opErr) {
		t.Errorf("List: got %v, want a network error", err)
	}
}

// failingProxy forwards requests to the server except PUTs for which fail
// returns true; it answers those with a 500 S3 error, without forwarding.
func failingProxy(t *testing.T, srv *miniotest.Server, fail func(*http.Request) bool) *s3.Client {
	t.Helper()
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && fail(r) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected by the test proxy</Message></Error>`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	return srv.S3Client(t, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(proxy.URL)
		o.RetryMaxAttempts = 2
	})
}

func TestS3ServerError(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.NewBucket(t)
	direct := audit.NewS3Store(srv.S3Client(t), bucket, nil)
	ctx := t.Context()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	ids := &fakeIDs{}
	opts := &audit.Options{Now: clock.Now, NewID: ids.Next}

	// A launch that succeeds, so that a latest copy exists.
	good := audit.NewTrail(direct, opts)
	m1, err := good.Begin(ctx, launch("dev"), []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	m1.Outcome = audit.OutcomeSucceeded
	if _, err := good.Finish(ctx, m1, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	before, err := direct.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("AllPuts", func(t *testing.T) {
		s := audit.NewS3Store(failingProxy(t, srv, func(*http.Request) bool { return true }), bucket, nil)
		tr := audit.NewTrail(s, opts)
		_, err := tr.Begin(ctx, launch("dev"), []byte("v2"))
		var re *smithyhttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
			t.Fatalf("Begin: got %v, want a 500 response error", err)
		}
		// Reads through the proxy still work, and see the first launch only.
		ms, err := tr.List(ctx, "dev")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{m1.LaunchID}, launchIDs(ms)); diff != "" {
			t.Errorf("List mismatch (-want +got):\n%s", diff)
		}
		after, err := direct.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("a failed Begin changed the bucket (-before +after):\n%s", diff)
		}
	})

	t.Run("ManifestPut", func(t *testing.T) {
		// Begin directly, then Finish through a proxy that refuses the
		// manifest: the latest copy must stay the first launch's.
		m2, err := good.Begin(ctx, launch("dev"), []byte("v2"))
		if err != nil {
			t.Fatal(err)
		}
		s := audit.NewS3Store(failingProxy(t, srv, func(r *http.Request) bool {
			return strings.HasSuffix(r.URL.Path, "/"+audit.ManifestName)
		}), bucket, nil)
		m2.Outcome = audit.OutcomeSucceeded
		if _, err := audit.NewTrail(s, opts).Finish(ctx, m2, []byte("v2")); err == nil {
			t.Fatal("Finish through a failing proxy succeeded")
		}
		mustGet(t, direct, audit.LatestKey("dev"), "v1")
		got, _, err := good.Show(ctx, "dev", m2.LaunchID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Outcome != audit.OutcomeStarted {
			t.Errorf("Outcome = %q, want %q", got.Outcome, audit.OutcomeStarted)
		}
	})

	t.Run("AttemptPut", func(t *testing.T) {
		// The tfvars lands but attempt.json does not: the attempt is not
		// listed, and Show does not find it.
		s := audit.NewS3Store(failingProxy(t, srv, func(r *http.Request) bool {
			return strings.HasSuffix(r.URL.Path, "/"+audit.AttemptName)
		}), bucket, nil)
		m3, err := audit.NewTrail(s, opts).Begin(ctx, launch("dev"), []byte("v3"))
		if err == nil {
			t.Fatal("Begin through a failing proxy succeeded")
		}
		ms, err := good.List(ctx, "dev")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.LaunchID == m3.LaunchID {
				t.Errorf("List shows the half-written attempt %s", m3.LaunchID)
			}
		}
		if _, _, err := good.Show(ctx, "dev", m3.LaunchID); !errors.Is(err, audit.ErrNotFound) {
			t.Errorf("Show: got %v, want ErrNotFound", err)
		}
	})
}

func launchIDs(ms []audit.Manifest) []string {
	ids := []string{}
	for _, m := range ms {
		ids = append(ids, m.LaunchID)
	}
	return ids
}
