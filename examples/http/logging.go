package main

import (
	"context"
	"net/http"
	"time"
)

// statusWriter records the status a handler wrote, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// loggedUser carries, from authentication back to logRequests, the admin
// a request was authenticated as.
type loggedUser struct{ name string }

type loggedUserKey struct{}

// setLoggedUser records who r was authenticated as, for the request log.
func setLoggedUser(r *http.Request, user string) {
	if u, ok := r.Context().Value(loggedUserKey{}).(*loggedUser); ok {
		u.name = user
	}
}

// logRequests logs one line per request, after it is answered, with the
// admin it was authenticated as. Credentials and bodies never are: a
// refused "user" may be a password typed in the wrong box.
func (s *server) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		u := &loggedUser{}
		h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), loggedUserKey{}, u)))
		s.log.InfoContext(r.Context(), "request",
			"method", r.Method, "path", r.URL.Path, "status", sw.status, "bytes", sw.bytes,
			"user", u.name, "remote", r.RemoteAddr, "duration", time.Since(start))
	})
}
