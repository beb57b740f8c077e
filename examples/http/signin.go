package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/lablink-go/lablink/internal/console"
)

const msgWrongCredentials = "Wrong user name or password."

// signIn is the sign-in page (GET) and form (POST). A right user name and
// password start a session (sessions.cookie) and send the browser on to
// the page it came from; a wrong one counts against the client's address
// as a wrong Basic credential does (signInLimiter).
func (s *server) signIn(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		next := localPath(r.URL.Query().Get("next"))
		if _, ok, _ := s.session(r); ok {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		s.signInForm(w, r, http.StatusOK, console.SignIn{Next: next})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.signInForm(w, r, http.StatusBadRequest, console.SignIn{Next: "/", Error: "The form could not be read."})
		return
	}
	user, pass := r.PostForm.Get("user"), r.PostForm.Get("password")
	form := console.SignIn{User: user, Next: localPath(r.PostForm.Get("next"))}
	switch ok, wait := s.checkPassword(r, user, pass); {
	case wait > 0:
		tooManyFailures(w, wait)
		form.Error = "Too many failed sign-ins from your address. Try again in " +
			itoa(int64(retrySeconds(wait))) + " seconds."
		s.signInForm(w, r, http.StatusTooManyRequests, form)
		return
	case !ok:
		form.Error = msgWrongCredentials
		s.signInForm(w, r, http.StatusUnauthorized, form)
		return
	}
	name := s.cfg.App.AdminUser
	token, expires := s.sessions.create(name)
	http.SetCookie(w, s.sessions.cookie(r, token, expires))
	setLoggedUser(r, name)
	s.log.InfoContext(r.Context(), "signed in", "user", name, "remote", r.RemoteAddr, "expires", expires)
	http.Redirect(w, r, form.Next, http.StatusSeeOther)
}

func (s *server) signInForm(w http.ResponseWriter, r *http.Request, status int, f console.SignIn) {
	s.render(w, r, status, "signin", console.Page{Title: "Sign in", Data: f})
}

// signOut ends the browser's session and sends it to the sign-in page.
func (s *server) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(c.Value)
	}
	http.SetCookie(w, s.sessions.cookie(r, "", time.Time{}))
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// localPath returns next when it is a path of this server, "/" otherwise,
// so that the sign-in page never sends a browser to another site
// ("//evil.example", "/\evil.example", "https://...").
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n\t") || strings.HasPrefix(next, "/signin") {
		return "/"
	}
	return next
}
