package audit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/miniotest"
)

var (
	createKey = audit.HistoryPrefix("dev", "launch-1") + audit.AttemptName
	ours      = []byte(`{"outcome":"started"}` + "\n")
	theirs    = []byte(`{"outcome":"succeeded"}` + "\n")
)

// checkOnly checks that the store holds createKey, with body, and nothing
// else.
func checkOnly(t *testing.T, s audit.Store, body []byte) {
	t.Helper()
	keys, err := s.List(t.Context(), "", audit.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{createKey}, keys)
	mustGet(t, s, createKey, string(body))
}

// Replaying a Create: the same bytes again are success, other bytes an
// error naming the object, and MinIO answered 412 to both, so neither
// overwrote the object.
func TestS3CreateReplay(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.NewBucket(t)
	p := newS3Proxy(t, srv, nil)
	s := audit.NewS3Store(p.client(t, srv), bucket, &audit.S3Options{Prefix: "p"})
	ctx := t.Context()

	require.NoError(t, s.Create(ctx, createKey, ours, audit.ContentTypeJSON), "first Create")
	assert.NoError(t, s.Create(ctx, createKey, ours, audit.ContentTypeJSON), "Create with the same bytes")
	checkOnly(t, s, ours)

	err := s.Create(ctx, createKey, theirs, audit.ContentTypeJSON)
	assert.ErrorIs(t, err, audit.ErrExists)
	assert.ErrorContains(t, err, s.Location(createKey))
	assert.ErrorContains(t, err, "other content")
	// The SDK's error stays reachable for callers that want the status.
	var re *smithyhttp.ResponseError
	if assert.ErrorAs(t, err, &re) {
		assert.Equal(t, http.StatusPreconditionFailed, re.HTTPStatusCode())
	}
	checkOnly(t, s, ours)
	assert.Equal(t, []int{200, 412, 412}, p.Creates())

	// A client that cannot read cannot tell a retry from another writer's
	// object, so it reports ErrExists rather than claim the write.
	err = audit.NewS3Store(putOnly{p.client(t, srv)}, bucket, &audit.S3Options{Prefix: "p"}).
		Create(ctx, createKey, ours, audit.ContentTypeJSON)
	assert.ErrorIs(t, err, audit.ErrExists)
	assert.ErrorIs(t, err, audit.ErrNotReadable)
}

// The case the 412 rule exists for: MinIO stores the object but its
// answer is lost (the proxy answers 500 instead), the SDK retries the
// request and MinIO refuses it with 412. Create succeeds.
func TestS3CreateLostAnswer(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.NewBucket(t)
	var lost atomic.Bool
	p := newS3Proxy(t, srv, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if isCreate(r) && lost.CompareAndSwap(false, true) {
			stored := httptest.NewRecorder()
			next.ServeHTTP(stored, r)
			assert.Equal(t, http.StatusOK, stored.Code, "MinIO refused the first PUT: %s", stored.Body)
			writeS3Error(w, http.StatusInternalServerError, "InternalError")
			return
		}
		next.ServeHTTP(w, r)
	})
	s := audit.NewS3Store(p.client(t, srv), bucket, nil)

	require.NoError(t, s.Create(t.Context(), createKey, ours, audit.ContentTypeJSON))
	assert.Equal(t, []int{500, 412}, p.Creates(), "statuses of the conditional PUTs")
	checkOnly(t, s, ours)
}

// 409 ConditionalRequestConflict is retried. MinIO serializes conditional
// writes and never answers 409, so the proxy answers it, before or instead
// of forwarding, and may let another writer's PUT land meanwhile, as the
// concurrent write a 409 reports would.
func TestS3CreateConflict(t *testing.T) {
	srv := miniotest.Shared(t)
	tests := []struct {
		name      string
		conflicts int    // conditional PUTs answered 409 before forwarding
		other     []byte // written directly at the first 409, when not nil
		want      []int  // statuses of the conditional PUTs
		wantErr   error
		wantBody  []byte // nil: no object
	}{
		{name: "once", conflicts: 1, want: []int{409, 200}, wantBody: ours},
		{name: "twice", conflicts: 2, want: []int{409, 409, 200}, wantBody: ours},
		{name: "other writer, same bytes", conflicts: 1, other: ours, want: []int{409, 412}, wantBody: ours},
		{name: "other writer, other bytes", conflicts: 1, other: theirs, want: []int{409, 412}, wantErr: audit.ErrExists, wantBody: theirs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := srv.NewBucket(t)
			direct := audit.NewS3Store(srv.S3Client(t), bucket, nil)
			var n atomic.Int32
			p := newS3Proxy(t, srv, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if !isCreate(r) {
					next.ServeHTTP(w, r)
					return
				}
				k := int(n.Add(1))
				if k > tt.conflicts {
					next.ServeHTTP(w, r)
					return
				}
				if k == 1 && tt.other != nil {
					assert.NoError(t, direct.Create(r.Context(), createKey, tt.other, audit.ContentTypeJSON), "the other writer")
				}
				writeS3Error(w, http.StatusConflict, "ConditionalRequestConflict")
			})
			err := audit.NewS3Store(p.client(t, srv), bucket, nil).Create(t.Context(), createKey, ours, audit.ContentTypeJSON)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.want, p.Creates(), "statuses of the conditional PUTs")
			checkOnly(t, direct, tt.wantBody)
		})
	}
}

// The retries of 409 are bounded and stop when the context is done.
func TestS3CreateConflictGivesUp(t *testing.T) {
	srv := miniotest.Shared(t)
	t.Run("bounded", func(t *testing.T) {
		bucket := srv.NewBucket(t)
		p := newS3Proxy(t, srv, always409(nil))
		s := audit.NewS3Store(p.client(t, srv), bucket, nil)
		err := s.Create(t.Context(), createKey, ours, audit.ContentTypeJSON)
		var re *smithyhttp.ResponseError
		if assert.ErrorAs(t, err, &re) {
			assert.Equal(t, http.StatusConflict, re.HTTPStatusCode())
		}
		assert.ErrorContains(t, err, s.Location(createKey))
		assert.Len(t, p.Creates(), audit.ConflictAttempts)
		checkNoObject(t, srv, bucket)
	})
	t.Run("canceled", func(t *testing.T) {
		bucket := srv.NewBucket(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		p := newS3Proxy(t, srv, always409(cancel))
		err := audit.NewS3Store(p.client(t, srv), bucket, nil).Create(ctx, createKey, ours, audit.ContentTypeJSON)
		assert.ErrorIs(t, err, context.Canceled)
		// The client gave up without waiting for the answer, so the
		// proxy may still be recording it: Close waits for its handlers.
		p.Close()
		assert.Len(t, p.Creates(), 1)
		checkNoObject(t, srv, bucket)
	})
}

// always409 answers every conditional PUT with 409, calling before first
// when it is not nil.
func always409(before func()) func(http.ResponseWriter, *http.Request, http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if !isCreate(r) {
			next.ServeHTTP(w, r)
			return
		}
		if before != nil {
			before()
		}
		writeS3Error(w, http.StatusConflict, "ConditionalRequestConflict")
	}
}

func checkNoObject(t *testing.T, srv *miniotest.Server, bucket string) {
	t.Helper()
	out, err := srv.S3Client(t).ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	assert.Empty(t, out.Contents)
}
