package main

import (
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"sync"
	"time"
)

// sessionCookie names the console's session cookie.
const sessionCookie = "lablink_console"

// maxSessions bounds the sessions kept; only the admin creates them.
const maxSessions = 1024

// sessions are the console's signed-in browsers: a random token in a
// cookie, which the server maps to the admin and an expiry. A session
// lasts a fixed time from sign-in (app.admin_session_timeout_minutes,
// upstream's key; upstream caps an admin's VNC session with it), and
// ends earlier at sign-out. They live in memory: a restart signs every
// browser out. Tokens are kept by their SHA-256, so that the map lookup
// takes no time that depends on how much of a guessed token is right. It
// is safe for concurrent use.
type sessions struct {
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	byHash map[[32]byte]session
}

type session struct {
	user    string
	expires time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, byHash: map[[32]byte]session{}}
}

// create starts a session for user and returns its token and expiry.
func (ss *sessions) create(user string) (token string, expires time.Time) {
	token = rand.Text() // 128 random bits
	now := ss.now()
	expires = now.Add(ss.ttl)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.byHash) >= maxSessions {
		ss.prune(now)
	}
	ss.byHash[sha256.Sum256([]byte(token))] = session{user, expires}
	return token, expires
}

// prune drops expired sessions, and the oldest while there are too
// many. ss.mu must be held.
func (ss *sessions) prune(now time.Time) {
	for len(ss.byHash) >= maxSessions {
		var oldest [32]byte
		var first time.Time
		for k, v := range ss.byHash {
			if !now.Before(v.expires) {
				delete(ss.byHash, k)
				continue
			}
			if first.IsZero() || v.expires.Before(first) {
				oldest, first = k, v.expires
			}
		}
		if len(ss.byHash) >= maxSessions {
			delete(ss.byHash, oldest)
		}
	}
}

// get returns the user of a valid session token.
func (ss *sessions) get(token string) (string, bool) {
	k := sha256.Sum256([]byte(token))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	v, ok := ss.byHash[k]
	if !ok {
		return "", false
	}
	if !ss.now().Before(v.expires) {
		delete(ss.byHash, k)
		return "", false
	}
	return v.user, true
}

// end ends the session of token, if there is one.
func (ss *sessions) end(token string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byHash, sha256.Sum256([]byte(token)))
}

// cookie is the cookie for the client of r that holds token until
// expires, as create returned them, for the sessions' lifetime (or, with
// an empty token, the cookie that removes it): HttpOnly, so that no
// script reads it; SameSite=Strict, so that no other site's page sends
// it; Secure when the browser reached the server over TLS, here or at a
// proxy in front that says so with X-Forwarded-Proto (as upstream
// decides). A forged X-Forwarded-Proto can only make the cookie stricter.
func (ss *sessions) cookie(r *http.Request, token string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"}
	if token == "" {
		c.MaxAge = -1
		return c
	}
	c.Expires = expires
	c.MaxAge = max(1, int(ss.ttl/time.Second))
	return c
}
