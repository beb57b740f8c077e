package audit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/miniotest"
)

// s3Proxy is an httptest server between the SDK and MinIO, so that a test
// can watch and change what goes over the wire while both ends speak the
// real S3 protocol.
type s3Proxy struct {
	*httptest.Server
	mu      sync.Mutex
	creates []int // the status of each conditional PUT, as the client saw it
}

// newS3Proxy starts a proxy in front of srv. handle sees every request
// and next, which forwards it to MinIO; a nil handle forwards everything.
func newS3Proxy(t *testing.T, srv *miniotest.Server, handle func(w http.ResponseWriter, r *http.Request, next http.Handler)) *s3Proxy {
	t.Helper()
	target, err := url.Parse(srv.Endpoint)
	require.NoError(t, err)
	next := httputil.NewSingleHostReverseProxy(target)
	if handle == nil {
		handle = func(w http.ResponseWriter, r *http.Request, next http.Handler) { next.ServeHTTP(w, r) }
	}
	p := &s3Proxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isCreate(r) {
			handle(w, r, next)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		handle(sw, r, next)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.creates = append(p.creates, sw.status)
	}))
	t.Cleanup(p.Close)
	return p
}

// client is an SDK client for srv whose requests go through the proxy.
func (p *s3Proxy) client(t *testing.T, srv *miniotest.Server, optFns ...func(*s3.Options)) *s3.Client {
	t.Helper()
	endpoint := func(o *s3.Options) { o.BaseEndpoint = aws.String(p.URL) }
	return srv.S3Client(t, append([]func(*s3.Options){endpoint}, optFns...)...)
}

// Creates returns the statuses of the conditional PUTs so far. A status is
// recorded when the proxy's handler returns, before the client reads the
// answer; for a request the client gave up on (its context ended), call
// Close first, which waits for the handlers.
func (p *s3Proxy) Creates() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.creates)
}

// isCreate reports whether r is a conditional PutObject, as S3Store.Create
// sends.
func isCreate(r *http.Request) bool {
	return r.Method == http.MethodPut && r.Header.Get("If-None-Match") == "*"
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// writeS3Error answers as S3 does when it refuses a request.
func writeS3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, err := fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+
		`<Error><Code>%s</Code><Message>injected by the test proxy</Message></Error>`, code)
	if err != nil {
		return // the client is gone: nobody reads the answer
	}
}
