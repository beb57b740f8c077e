package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/testkit"
)

// t1 is the sign-in tests' clock at the start.
var t1 = time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)

// jsonLog is a logger of JSON lines into sink, which renders them.
func jsonLog(sink *logSink) *slog.Logger { return slog.New(slog.NewJSONHandler(sink, nil)) }

// signIn signs in on h with the test's credentials and returns the
// session cookie.
func signIn(t *testing.T, h http.Handler) *http.Cookie {
	t.Helper()
	w := postForm(h, "/signin", "192.0.2.1:1234", url.Values{"user": {testUser}, "password": {testPassword}, "next": {"/"}})
	require.Equal(t, http.StatusSeeOther, w.Code, "sign in: body %s", w.Body)
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	t.Fatal("sign in set no session cookie")
	return nil
}

// postForm posts a form to h from remote, as a browser of the same
// origin does.
func postForm(h http.Handler, path, remote string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", formCT)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// getPage sends a GET with cookie (nil for none) to h.
func getPage(h http.Handler, path string, cookie *http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestSignInSession: a browser without a session is sent to the sign-in
// page and back; a wrong password is refused; the right one starts a
// session whose cookie is HttpOnly and SameSite=Strict and lasts
// app.admin_session_timeout_minutes, for the pages and the API alike;
// after that it is over, and the API says so without a Basic challenge
// (which would make a page's script open a password dialog); sign-out
// ends it before.
func TestSignInSession(t *testing.T) {
	clock := testkit.NewClock(t1)
	h := newTestHandler(t, newFake(t), serverOptions{Now: clock.Now})

	w := getPage(h, "/operations?before=3", nil)
	require.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, "/signin?next=%2Foperations%3Fbefore%3D3", w.Header().Get("Location"))
	w = getPage(h, "/signin?next=%2Foperations%3Fbefore%3D3", nil)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), `<input type="hidden" name="next" value="/operations?before=3">`)

	w = postForm(h, "/signin", "192.0.2.1:1", url.Values{"user": {testUser}, "password": {"wrong-password"}})
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Contains(t, w.Body.String(), msgWrongCredentials)
	assert.Empty(t, w.Result().Cookies(), "cookies after a failed sign-in")

	w = postForm(h, "/signin", "192.0.2.1:1", url.Values{"user": {testUser}, "password": {testPassword},
		"next": {"/operations?before=3"}})
	require.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, "/operations?before=3", w.Header().Get("Location"))
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	assert.Equal(t, sessionCookie, c.Name)
	assert.True(t, c.HttpOnly, "HttpOnly")
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite, "SameSite")
	assert.False(t, c.Secure, "Secure over plain HTTP")
	assert.Equal(t, "/", c.Path)
	assert.Equal(t, 30*60, c.MaxAge, "Max-Age: the config's 30 minutes")

	assert.Equal(t, http.StatusOK, getPage(h, "/", c).Code, "a page with the session")
	assert.Equal(t, http.StatusOK, getPage(h, "/api/status", c).Code, "the API with the session")
	clock.Set(t1.Add(30*time.Minute - time.Second))
	assert.Equal(t, http.StatusOK, getPage(h, "/", c).Code, "a second before the end")
	clock.Set(t1.Add(30 * time.Minute))
	w = getPage(h, "/", c)
	assert.Equal(t, http.StatusSeeOther, w.Code, "a page once the session is over")
	w = getPage(h, "/api/status", c)
	assert.Equal(t, http.StatusUnauthorized, w.Code, "the API once the session is over")
	assert.Empty(t, w.Header().Get("WWW-Authenticate"), "a Basic challenge to a browser")
	assert.Equal(t, "session expired; sign in again", errorOf(t, w))

	c = signIn(t, h)
	r := httptest.NewRequest(http.MethodPost, "/signout", nil)
	r.AddCookie(c)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, "/signin", w.Header().Get("Location"))
	require.Len(t, w.Result().Cookies(), 1)
	assert.Equal(t, -1, w.Result().Cookies()[0].MaxAge, "the cookie is removed")
	assert.Equal(t, http.StatusSeeOther, getPage(h, "/", c).Code, "a page after sign-out")
}

// TestSessionCookieSecure: Secure when the browser reached the server
// over TLS, or a proxy in front says so (X-Forwarded-Proto, as upstream);
// Max-Age is the config's timeout.
func TestSessionCookieSecure(t *testing.T) {
	tests := []struct {
		name, target, forwarded string
		secure                  bool
	}{
		{"plain HTTP", "http://example.com/signin", "", false},
		{"TLS", "https://example.com/signin", "", true},
		{"behind a TLS proxy", "http://example.com/signin", "https", true},
		{"behind a plain proxy", "http://example.com/signin", "http", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.App.AdminSessionTimeoutMinutes = 45
			h, err := newServer(newFake(t), cfg, serverOptions{Logger: testLogger(t)})
			require.NoError(t, err)
			r := httptest.NewRequest(http.MethodPost, tc.target,
				strings.NewReader(url.Values{"user": {testUser}, "password": {testPassword}}.Encode()))
			r.Header.Set("Content-Type", formCT)
			if tc.forwarded != "" {
				r.Header.Set("X-Forwarded-Proto", tc.forwarded)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, http.StatusSeeOther, w.Code)
			c := w.Result().Cookies()[0]
			assert.Equal(t, tc.secure, c.Secure, "Secure")
			assert.Equal(t, 45*60, c.MaxAge, "Max-Age")
		})
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/operations/3":        "/operations/3",
		"/vms?x=1":             "/vms?x=1",
		"":                     "/",
		"//evil.example/":      "/",
		"/\\evil.example":      "/",
		"https://evil.example": "/",
		"evil":                 "/",
		"/signin?next=/x":      "/",
		"/x\r\nSet-Cookie: a":  "/",
	} {
		assert.Equal(t, want, localPath(in), "localPath(%q)", in)
	}
}

// TestFailedSignInsSlowDown: after a burst of failures, an address's
// credentials are not checked at all, right or wrong, until its limiter
// refills; other addresses are not affected; each burst is logged once
// (its first failure, and its first refusal), never with the password.
func TestFailedSignInsSlowDown(t *testing.T) {
	const wrong = "Tr0ub4dor&3-wrong"
	limit := signInLimit{Burst: 10, Every: 6 * time.Second}
	try := map[string]func(h http.Handler, remote, password string) *httptest.ResponseRecorder{
		"basic": func(h http.Handler, remote, password string) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodGet, "/api/status", nil)
			r.RemoteAddr = remote
			r.SetBasicAuth(testUser, password)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		},
		"form": func(h http.Handler, remote, password string) *httptest.ResponseRecorder {
			return postForm(h, "/signin", remote, url.Values{"user": {testUser}, "password": {password}})
		},
	}
	for name, attempt := range try {
		t.Run(name, func(t *testing.T) {
			clock := testkit.NewClock(t1)
			logs := newLogSink()
			h := newTestHandler(t, newFake(t), serverOptions{Now: clock.Now, SignIn: limit, Logger: jsonLog(logs)})
			const attacker, other = "198.51.100.7:40000", "203.0.113.9:40000"
			counts := map[int]int{}
			for range 800 {
				counts[attempt(h, attacker, wrong).Code]++
			}
			assert.Equal(t, map[int]int{http.StatusUnauthorized: 10, http.StatusTooManyRequests: 790}, counts,
				"answers to 800 wrong passwords")
			w := attempt(h, attacker, testPassword)
			assert.Equal(t, http.StatusTooManyRequests, w.Code, "the right password while refused")
			assert.Equal(t, "6", w.Header().Get("Retry-After"))
			assert.Less(t, attempt(h, other, testPassword).Code, 400, "another address")
			clock.Set(t1.Add(limit.Every))
			assert.Less(t, attempt(h, attacker, testPassword).Code, 400, "the right password once refilled")

			log := logs.String()
			assert.Equal(t, 1, strings.Count(log, "sign-in failed"), "log:\n%s", log)
			assert.Equal(t, 1, strings.Count(log, "too many failed sign-ins"), "log:\n%s", log)
			assert.Contains(t, log, "remote=198.51.100.7/32")
			assert.NotContains(t, log, wrong, "the password in the log")
		})
	}
}

// TestClientAddr: IPv4 addresses count alone, IPv6 ones by /64.
func TestClientAddr(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.1:1234":             "192.0.2.1/32",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.1]:80":      "192.0.2.1/32",
		"[fe80::1%eth0]:80":          "fe80::/64",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		assert.Equal(t, want, clientAddr(r).String(), remote)
	}
}
