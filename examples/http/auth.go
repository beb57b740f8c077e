package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// authResult is what authenticate found.
type authResult int

const (
	authNone    authResult = iota // no credentials
	authOK                        // the admin
	authFailed                    // wrong credentials
	authLimited                   // too many failures from this address: not checked
	authExpired                   // a session cookie that is no longer valid, and nothing else
)

// authenticate finds the admin who sent r: a valid session cookie, else
// HTTP Basic credentials equal to the admin user and password. Basic
// credentials from an address that failed too often lately are not
// checked at all (authLimited, and how long to wait); a failure counts
// against the address (signInLimiter). Both halves are compared, always,
// in constant time: there is no early return on a wrong user, so the
// response time tells nothing about which half was wrong, nor about the
// secrets' lengths (digests are compared, not the strings).
func (s *server) authenticate(r *http.Request) (user string, res authResult, retry time.Duration) {
	user, ok, sent := s.session(r)
	if ok {
		return user, authOK, 0
	}
	u, p, ok := r.BasicAuth()
	switch {
	case !ok && sent:
		return "", authExpired, 0
	case !ok:
		return "", authNone, 0
	}
	switch ok, wait := s.checkPassword(r, u, p); {
	case wait > 0:
		return "", authLimited, wait
	case !ok:
		return "", authFailed, 0
	}
	return s.cfg.App.AdminUser, authOK, 0
}

// session reads the session cookie of r: the user of a valid session
// (ok), and whether r sent the cookie at all, valid or not (sent).
func (s *server) session(r *http.Request) (user string, ok, sent bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false, false
	}
	user, ok = s.sessions.get(c.Value)
	return user, ok, true
}

// checkPassword checks a user name and password that the client of r
// sent, as Basic credentials or with the sign-in form. From an address
// that failed too often lately they are not checked at all: wait says
// how long until they are. A failure counts against the address
// (signInLimiter).
func (s *server) checkPassword(r *http.Request, user, pass string) (ok bool, wait time.Duration) {
	addr := clientAddr(r)
	if wait := s.limit.wait(r.Context(), addr); wait > 0 {
		return false, wait
	}
	if !s.credentialsOK(user, pass) {
		s.limit.fail(r.Context(), addr, r.URL.Path)
		return false, 0
	}
	return true, 0
}

func (s *server) credentialsOK(user, pass string) bool {
	u, p := digest(user), digest(pass)
	userOK := subtle.ConstantTimeCompare(u[:], s.userSum[:])
	passOK := subtle.ConstantTimeCompare(p[:], s.passSum[:])
	return userOK&passOK == 1
}

func digest(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// guard lets the admin through to h, with the actor in the request's
// context, and answers anyone else with refuse (after the Retry-After
// header of an address that failed too often).
func (s *server) guard(h http.Handler, refuse func(http.ResponseWriter, *http.Request, authResult, time.Duration)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, res, retry := s.authenticate(r)
		switch res {
		case authOK:
			setLoggedUser(r, user)
			h.ServeHTTP(w, r.WithContext(withActor(r.Context(), user)))
			return
		case authLimited:
			tooManyFailures(w, retry)
		}
		refuse(w, r, res, retry)
	})
}

// authAPI guards an API route: anyone but the admin gets JSON: 401 with
// a Basic challenge (none to a browser whose session ended, so that it
// shows no password dialog for a page's script), or 429 while the
// client's address is refused for failing too often.
func (s *server) authAPI(h http.Handler) http.Handler {
	return s.guard(h, func(w http.ResponseWriter, r *http.Request, res authResult, retry time.Duration) {
		switch res {
		case authLimited:
			writeError(w, http.StatusTooManyRequests, limitedMsg(retry))
		case authExpired:
			writeError(w, http.StatusUnauthorized, "session expired; sign in again")
		default:
			w.Header().Set("WWW-Authenticate", `Basic realm="lablink", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "authentication required")
		}
	})
}

// authPage guards a page: anyone but the admin is sent to the sign-in
// page, which brings them back here.
func (s *server) authPage(h http.Handler) http.Handler {
	return s.guard(h, func(w http.ResponseWriter, r *http.Request, res authResult, retry time.Duration) {
		if res == authLimited {
			s.errorPage(w, r, http.StatusTooManyRequests, "Too many failed sign-ins", limitedMsg(retry))
			return
		}
		next := r.URL.Path
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next = r.URL.RequestURI()
		}
		http.Redirect(w, r, "/signin?next="+url.QueryEscape(next), http.StatusSeeOther)
	})
}

func tooManyFailures(w http.ResponseWriter, retry time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(retry)))
}

func retrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

func limitedMsg(retry time.Duration) string {
	return fmt.Sprintf("too many failed sign-ins from this address; try again in %d s", retrySeconds(retry))
}
