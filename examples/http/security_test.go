package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/schedule"
)

// routePaths is a path of every route of the server (newServer's
// routes), for tests that must cover all of them, the routes added later
// included.
func routePaths(t *testing.T) []string {
	t.Helper()
	var out []string
	// With a Calendar, the schedules' routes too.
	for _, rt := range (&server{opts: serverOptions{Calendar: &schedule.Calendar{}}}).routes() {
		p := strings.ReplaceAll(rt.pattern, "{$}", "")
		p = strings.ReplaceAll(p, "{id}", "1")
		switch {
		case strings.Contains(p, "{"):
			t.Fatalf("routePaths: give the pattern %q a path", rt.pattern)
		case strings.HasSuffix(p, "/") && p != "/":
			p += "x"
		}
		out = append(out, p)
	}
	return out
}

// crossOrigin are requests a browser sends from a page of another
// origin; the server's host is example.com (httptest.NewRequest's).
var crossOrigin = []struct {
	name    string
	headers map[string]string
}{
	{"another site's Origin", map[string]string{"Origin": "https://evil.example"}},
	{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
	{"Sec-Fetch-Site cross-site without Origin", map[string]string{"Sec-Fetch-Site": "cross-site"}},
	{"Sec-Fetch-Site same-site (another port)", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://example.com:8081"}},
	{"Origin null (a sandboxed frame, a file)", map[string]string{"Origin": "null"}},
	{"another port's Origin, old browser", map[string]string{"Origin": "http://example.com:8081"}},
}

// TestCrossOriginRefused: every request but GET, HEAD and OPTIONS that a
// browser sends from another origin is refused with the JSON error,
// whatever its credentials (Basic and a session here), on every route,
// and nothing is queued.
func TestCrossOriginRefused(t *testing.T) {
	f := launched(t, 1)
	cal, err := schedule.NewCalendar(audit.NewDirStore(t.TempDir()), "prod", nil)
	require.NoError(t, err)
	h := newTestHandler(t, f, serverOptions{Calendar: cal})
	cookie := signIn(t, h)
	before := len(f.Requests())
	for _, path := range routePaths(t) {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			for _, tc := range crossOrigin {
				t.Run(method+" "+path+"/"+tc.name, func(t *testing.T) {
					r := httptest.NewRequest(method, path, strings.NewReader("num_vms=2&confirm=lablink"))
					r.Header.Set("Content-Type", formCT)
					r.SetBasicAuth(testUser, testPassword)
					r.AddCookie(cookie)
					for k, v := range tc.headers {
						r.Header.Set(k, v)
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					assert.Equal(t, http.StatusForbidden, w.Code, "status")
					assert.Equal(t, msgCrossOrigin, errorOf(t, w))
				})
			}
		}
	}
	assert.Len(t, f.Requests(), before, "requests queued by cross-origin posts")
	ops, _, err := f.Ops(t.Context(), audit.OpQuery{})
	require.NoError(t, err)
	assert.Len(t, ops, before, "operations")
	scheds, err := cal.List(t.Context(), "")
	require.NoError(t, err)
	assert.Empty(t, scheds, "schedules")
}

// TestSameOriginAndAPIClientsPass: the README's curl commands (no
// browser headers), a browser's own pages (same origin) and a URL typed
// into the browser pass the cross-origin check.
func TestSameOriginAndAPIClientsPass(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
	}{
		{"curl", map[string]string{"Accept": "application/json", "User-Agent": "curl/8.5.0"}},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}},
		{"same origin, old browser", map[string]string{"Origin": "http://example.com"}},
		{"typed by the user", map[string]string{"Sec-Fetch-Site": "none"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			h := newTestHandler(t, f)
			r := httptest.NewRequest(http.MethodPost, "/api/launch", strings.NewReader("num_vms=2"))
			r.Header.Set("Content-Type", formCT)
			r.Header.Set("Accept", "application/json")
			r.SetBasicAuth(testUser, testPassword)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, http.StatusAccepted, w.Code, "body %s", w.Body)
			assert.JSONEq(t, `{"job_id": 1, "status": "queued"}`, w.Body.String())
			w = do(t, h, request{method: http.MethodGet, path: "/api/operations/1"})
			assert.Equal(t, http.StatusOK, w.Code)
		})
	}
}

// TestOneErrorShape: every error of the API is {"error": "..."} (with
// launch_id when a record tells more), JSON, whatever refused it: the
// mux, authentication, the sign-in limit, the cross-origin check, a
// handler.
func TestOneErrorShape(t *testing.T) {
	big := bytes.Repeat([]byte("x"), defaultMaxBodyBytes+1)
	tests := []struct {
		name   string
		rq     request
		header map[string]string
		status int
	}{
		{"unknown API path", request{method: http.MethodGet, path: "/api/nope"}, nil, http.StatusNotFound},
		{"unknown path", request{method: http.MethodGet, path: "/nope"}, nil, http.StatusNotFound},
		{"no credentials", request{method: http.MethodGet, path: "/api/status", noAuth: true}, nil, http.StatusUnauthorized},
		{"wrong method", request{method: http.MethodDelete, path: "/api/launch"}, nil, http.StatusMethodNotAllowed},
		{"wrong method of a page", request{method: http.MethodDelete, path: "/vms"}, nil, http.StatusMethodNotAllowed},
		{"cross-origin", request{path: "/api/destroy"}, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"bad JSON", request{path: "/api/launch", contentType: "application/json", body: []byte(`{"num_vms":1,"num_vms":2}`)}, nil, http.StatusBadRequest},
		{"too large", request{path: "/api/launch", contentType: formCT, body: big}, nil, http.StatusRequestEntityTooLarge},
		{"bad content type", request{path: "/api/launch", contentType: "text/csv", body: []byte("1")}, nil, http.StatusUnsupportedMediaType},
		{"bad id", request{method: http.MethodGet, path: "/api/operations/x"}, nil, http.StatusBadRequest},
		{"nothing to destroy", request{path: "/api/destroy"}, nil, http.StatusNotFound},
		{"too many VMs", request{path: "/api/launch", contentType: formCT, body: form("num_vms", "501")}, nil, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler(t, newFake(t))
			r := httptest.NewRequest(tc.rq.method, tc.rq.path, bytes.NewReader(tc.rq.body))
			if tc.rq.method == "" {
				r.Method = http.MethodPost
			}
			if tc.rq.contentType != "" {
				r.Header.Set("Content-Type", tc.rq.contentType)
			}
			if !tc.rq.noAuth {
				r.SetBasicAuth(testUser, testPassword)
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assert.Equal(t, tc.status, w.Code, "status; body %s", w.Body)
			assertErrorShape(t, w)
		})
	}
}

// assertErrorShape checks that w holds the one JSON error shape.
func assertErrorShape(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	var e errorJSON
	if assert.NoError(t, dec.Decode(&e), "error body") {
		assert.NotEmpty(t, e.Error, "error text")
	}
}

// TestDecodeStrict: what a JSON body may hold.
func TestDecodeStrict(t *testing.T) {
	type body struct {
		A int            `json:"a"`
		B map[string]any `json:"b"`
		C []any          `json:"c"`
	}
	tests := []struct{ in, err string }{
		{`{"a": 1}`, ""},
		{` {"a": 1, "b": {"x": 1, "y": {"x": 2}}, "c": [{"x": 1}, {"x": 2}]} `, ""},
		{`{"a": 1, "a": 2}`, `duplicate key "a"`},
		{`{"b": {"x": 1, "x": 2}}`, `duplicate key "x"`},
		{`{"c": [{"x": 1, "y": 2, "x": 3}]}`, `duplicate key "x"`},
		{`{"a": 1, "d": 2}`, `unknown field "d"`},
		{`{"a": 1} {"a": 2}`, "data after the JSON value"},
		{`{"a": 1},`, "data after the JSON value"},
		{`{"a": "1"}`, `field "a": want a number, got string`},
		{`{"a": 1`, "unexpected end of the body"},
		{`{"a" 1}`, "syntax error at byte 6"},
		{``, "empty body"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			err := decodeStrict([]byte(tc.in), &body{})
			if tc.err == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tc.err)
		})
	}
}

// TestNoServerPathsInAnswers: the answers to a launch waited for, and to
// the operations and status routes, name audit records by id, never by
// where the server keeps them.
func TestNoServerPathsInAnswers(t *testing.T) {
	h := newTestHandler(t, newFake(t))
	w := do(t, h, request{path: "/api/launch?wait=1", contentType: formCT, body: form("num_vms", "2")})
	require.Equal(t, http.StatusOK, w.Code, "body %s", w.Body)
	var got map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	assert.NotContains(t, got, "audit", "the launch result")
	assert.Equal(t, "fake-1", got["launch_id"])
}

// TestScheduleBodyStrict: the schedules' JSON bodies are read as strictly
// as every other (their answers keep upstream's shape).
func TestScheduleBodyStrict(t *testing.T) {
	s := newScheduleServer(t)
	when := `"destruction_time": "` + at(time.Hour) + `"`
	for body, want := range map[string]string{
		`{"schedule_name": "a", "schedule_name": "b", ` + when + `}`: `invalid JSON body: duplicate key "schedule_name"`,
		`{"schedule_name": "a", "destroy_at": "x", ` + when + `}`:    `invalid JSON body: unknown field "destroy_at"`,
		`{"schedule_name": "a", ` + when + `} {}`:                    "invalid JSON body: data after the JSON value",
	} {
		code, a := s.call(t, http.MethodPost, "/api/schedule-destruction", body)
		assert.Equal(t, http.StatusBadRequest, code, body)
		assert.Equal(t, want, a.Message, body)
	}
	list, err := s.cal.List(t.Context(), "")
	require.NoError(t, err)
	assert.Empty(t, list)
}

// TestScheduleBodyRefusals: a schedule's body of the wrong JSON type is
// refused naming its field in the words of every JSON body, and one too
// large with every route's 413.
func TestScheduleBodyRefusals(t *testing.T) {
	s := newScheduleServer(t)
	code, a := s.call(t, http.MethodPost, "/api/schedule-launch",
		`{"schedule_name": "a", "launch_time": "`+at(time.Hour)+`", "num_vms": "many"}`)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, []fieldJSON{{"num_vms", "want a number, got string"}}, a.Errors)
	assert.Equal(t, "num_vms: want a number, got string", a.Message)

	big := `{"schedule_name": "` + strings.Repeat("x", defaultMaxBodyBytes) + `"}`
	code, a = s.call(t, http.MethodPost, "/api/schedule-destruction", big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.Equal(t, tooLargeMsg(defaultMaxBodyBytes), a.Message)
	list, err := s.cal.List(t.Context(), "")
	require.NoError(t, err)
	assert.Empty(t, list)
}
