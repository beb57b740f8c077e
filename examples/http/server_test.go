package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/launcher/launchertest"
)

const (
	testUser     = "admin"
	testPassword = "correct-horse-battery-staple"
)

// testConfig is a config today's rules accept (plain HTTP on the
// allocator's IP) with the test's admin credentials.
func testConfig() lablink.Config {
	cfg := testkit.Config()
	cfg.App.AdminUser = testUser
	cfg.App.AdminPassword = testPassword
	return cfg
}

// testLogger writes through t.Log, so logs show up only for failed tests.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newFake is the launcher double of launchertest, closed when the test
// ends.
func newFake(t *testing.T) *launchertest.Fake {
	f := launchertest.New(nil)
	t.Cleanup(f.Close)
	return f
}

// newTestHandler serves l with the test's credentials and opts (its
// logger, when unset, the test's). Its requests carry a server lifetime,
// as serve gives them; when the test ends, it waits for the background
// work they left and then ends the lifetime.
func newTestHandler(t *testing.T, l launcher.Service, opts ...serverOptions) http.Handler {
	t.Helper()
	h := newTestServer(t, l, opts...)
	base := testLifetime(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(base))
	})
}

// newTestServer is newServer with the test's config and logger.
func newTestServer(t *testing.T, l launcher.Service, opts ...serverOptions) http.Handler {
	t.Helper()
	var o serverOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	h, err := newServer(l, testConfig(), o)
	require.NoError(t, err)
	return h
}

// testLifetime is a server lifetime that ends with the test, once the
// background work of its requests is done.
func testLifetime(t *testing.T) context.Context {
	base, end := withLifetime(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, waitBackground(ctx, base), "background work left by the test's requests")
		end()
	})
	return base
}

type request struct {
	method, path, contentType string
	body                      []byte
	noAuth                    bool
	user, password            string
}

func do(t *testing.T, h http.Handler, rq request) *httptest.ResponseRecorder {
	t.Helper()
	if rq.method == "" {
		rq.method = http.MethodPost
	}
	r := httptest.NewRequest(rq.method, rq.path, bytes.NewReader(rq.body))
	if rq.contentType != "" {
		r.Header.Set("Content-Type", rq.contentType)
	}
	if !rq.noAuth {
		user, pass := testUser, testPassword
		if rq.user != "" || rq.password != "" {
			user, pass = rq.user, rq.password
		}
		r.SetBasicAuth(user, pass)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func form(kv ...string) []byte {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return []byte(v.Encode())
}

func multipartBody(t *testing.T, kv ...string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i < len(kv); i += 2 {
		if err := mw.WriteField(kv[i], kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	return body.Error
}

const formCT = "application/x-www-form-urlencoded"

func TestAuth(t *testing.T) {
	tests := []struct {
		name string
		rq   request
	}{
		{"no credentials", request{noAuth: true}},
		{"wrong password", request{user: testUser, password: testPassword + "x"}},
		{"wrong user", request{user: "root", password: testPassword}},
		{"both wrong", request{user: "root", password: "hunter2"}},
	}
	for _, path := range []string{"/api/launch", "/api/destroy", "/api/status", "/api/nope",
		"/api/operations", "/api/operations/1", "/api/operations/1/events", "/api/operations/x"} {
		for _, tc := range tests {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				rq := tc.rq
				rq.path, rq.contentType, rq.body = path, formCT, form("num_vms", "1")
				w := do(t, newTestHandler(t, newFake(t)), rq)
				if w.Code != http.StatusUnauthorized {
					t.Errorf("status = %d, want 401", w.Code)
				}
				if got, want := w.Header().Get("WWW-Authenticate"), `Basic realm="lablink", charset="UTF-8"`; got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
			})
		}
	}
	t.Run("empty credentials header", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/api/status", nil)
		r.SetBasicAuth("", "")
		w := httptest.NewRecorder()
		newTestHandler(t, newFake(t)).ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("status = %d, want 401", w.Code)
		}
	})
}

func TestMethodNotAllowed(t *testing.T) {
	tests := []struct {
		method, path, wantAllow string
	}{
		{http.MethodGet, "/api/launch", "POST"},
		{http.MethodPut, "/api/launch", "POST"},
		{http.MethodGet, "/api/destroy", "POST"},
		{http.MethodDelete, "/api/status", "GET, HEAD"},
		{http.MethodPost, "/api/status", "GET, HEAD"},
		{http.MethodPost, "/healthz", "GET, HEAD"},
		{http.MethodPost, "/api/operations", "GET, HEAD"},
		{http.MethodDelete, "/api/operations/1", "GET, HEAD"},
		{http.MethodPost, "/api/operations/1/events", "GET"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := do(t, newTestHandler(t, newFake(t)), request{method: tc.method, path: tc.path})
			if w.Code != http.StatusMethodNotAllowed {
				t.Errorf("status = %d, want 405", w.Code)
			}
			if got := w.Header().Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tc.wantAllow)
			}
		})
	}
	// Authentication comes first: an anonymous client learns nothing.
	w := do(t, newTestHandler(t, newFake(t)), request{method: http.MethodGet, path: "/api/launch", noAuth: true})
	if w.Code != http.StatusUnauthorized {
		t.Errorf("anonymous GET /api/launch: status = %d, want 401", w.Code)
	}
}

func TestHealthzNeedsNoAuth(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		w := do(t, newTestHandler(t, newFake(t)), request{method: method, path: "/healthz", noAuth: true})
		if w.Code != http.StatusOK {
			t.Errorf("%s /healthz: status = %d, want 200", method, w.Code)
		}
		if method == http.MethodGet && w.Body.String() != "ok" {
			t.Errorf("GET /healthz: body = %q, want ok", w.Body)
		}
	}
}

// TestOpContext: a client that goes away does not cancel the operation
// it queued; the server's shutdown does.
func TestOpContext(t *testing.T) {
	life, shutdown := withLifetime(context.Background())
	defer shutdown()
	reqCtx, disconnect := context.WithCancel(life)
	r := httptest.NewRequest(http.MethodPost, "/api/launch", nil).WithContext(reqCtx)

	ctx := opContext(r)
	disconnect()
	require.NoError(t, ctx.Err(), "the operation's context after the client left")
	assert.False(t, shuttingDown(r), "shuttingDown before shutdown")
	shutdown()
	<-ctx.Done()
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	assert.True(t, shuttingDown(r), "shuttingDown after shutdown")
}
