package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/internal/console"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/schedule"
)

// serverOptions tunes newServer. The zero value means the defaults.
type serverOptions struct {
	// Logger receives request and launch logs. Default slog.Default().
	Logger *slog.Logger
	// Environment names the environment the console manages, for its
	// header. Default: none shown.
	Environment string
	// AllocatorURL is the URL client VMs reach this allocator at, which
	// launch results show. Default "".
	AllocatorURL string
	// MaxBodyBytes bounds request bodies; larger ones get 413. Default 64 KiB.
	MaxBodyBytes int64
	// ApplyWriteTimeout is the write deadline of the handlers that wait for
	// OpenTofu (launch and destroy with ?wait=1, status), which replaces
	// the server's short WriteTimeout for them. Default 1 hour. See
	// newHTTPServer.
	ApplyWriteTimeout time.Duration
	// Heartbeat is how often an event stream with nothing to say sends a
	// comment, so that proxies and load balancers (AWS ALB: 60 s idle
	// timeout) keep it open. Default 15 s.
	Heartbeat time.Duration
	// Calendar keeps the schedules the /api/schedule-* routes serve
	// (schedules.go). Default nil: no schedule routes.
	Calendar *schedule.Calendar
	// SignIn limits failed sign-ins per client address. Default
	// defaultSignInLimit.
	SignIn signInLimit
	// Now is the clock of sessions and of the sign-in limit. Default
	// time.Now.
	Now func() time.Time
}

const (
	defaultMaxBodyBytes      = 64 << 10
	defaultApplyWriteTimeout = time.Hour
	defaultHeartbeat         = 15 * time.Second
)

// server serves the allocator's API and the operator's console in front
// of a launcher.Service. Its handlers are safe for concurrent use.
type server struct {
	l    launcher.Service
	cfg  lablink.Config
	log  *slog.Logger
	opts serverOptions
	// userSum and passSum are SHA-256 digests of the admin credentials;
	// comparing digests keeps the comparison constant-time even in the
	// lengths of the secrets.
	userSum, passSum [32]byte
	sessions         *sessions
	limit            *signInLimiter
	pages            *console.Renderer
}

// access says who may use a route.
type access int

const (
	public access = iota // anyone
	api                  // an admin: Basic auth or a session; 401 JSON otherwise
	page                 // an admin: a session or Basic auth; the sign-in page otherwise
)

// route is one path the server answers: the methods it takes (others get
// a JSON 405 with an Allow header, once the client is authenticated) and
// who may use it.
type route struct {
	pattern string
	access  access
	methods []string
	h       http.HandlerFunc
}

var (
	get     = []string{http.MethodGet, http.MethodHead}
	post    = []string{http.MethodPost}
	getPost = []string{http.MethodGet, http.MethodHead, http.MethodPost}
)

// routes is every route of the server, in one place: upstream's API
// under /api/ (the schedules' in schedules.go), the console's pages under
// / (the schedules' in pages_schedules.go), upstream's /admin pages
// redirected to ours.
func (s *server) routes() []route {
	return slices.Concat([]route{
		{"/healthz", public, get, s.healthz},
		{"/static/", public, get, console.Assets().ServeHTTP},
		{"/signin", public, getPost, s.signIn},
		{"/signout", public, post, s.signOut},

		{"/api/launch", api, post, s.launch},
		{"/api/destroy", api, post, s.destroy},
		{"/api/status", api, get, s.status},
		{"/api/operations", api, get, s.operations},
		{"/api/operations/{id}", api, get, s.operation},
		{"/api/operations/{id}/events", api, []string{http.MethodGet}, s.events},
	}, s.scheduleRoutes(), []route{
		{"/api/", api, nil, s.apiNotFound},

		{"/{$}", page, get, s.overviewPage},
		{"/launch", page, getPost, s.launchPage},
		{"/launch/preview", page, get, s.previewPage},
		{"/destroy", page, getPost, s.destroyPage},
		{"/operations", page, get, s.operationsPage},
		{"/operations/{id}", page, get, s.operationPage},
		{"/launches/{id}", page, get, s.recordPage},
		{"/vms", page, get, s.vmsPage},
	}, s.schedulePageRoutes(), []route{
		{"/admin", public, get, redirectTo("/")},
		{"/admin/", public, get, redirectTo("/")},
		{"/admin/create", public, get, redirectTo("/launch")},
		{"/admin/instances", public, get, redirectTo("/vms")},
		{"/admin/instances/delete", public, get, redirectTo("/destroy")},
		{"/admin/scheduled-destruction", public, get, redirectTo("/schedules")},
		{"/", public, nil, s.notFound},
	})
}

// newServer returns the allocator's API and the operator's console in
// front of l, for the admin of cfg (app.admin_user, app.admin_password;
// sessions last app.admin_session_timeout_minutes). It does not check the
// password policy; main does (checkAdminPassword). Every request that is
// not GET, HEAD or OPTIONS is refused (403) when a browser sends it from
// another origin (http.CrossOriginProtection); clients that send no
// browser headers, such as curl, are not browsers and pass.
func newServer(l launcher.Service, cfg lablink.Config, opts serverOptions) (http.Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = defaultMaxBodyBytes
	}
	if opts.ApplyWriteTimeout <= 0 {
		opts.ApplyWriteTimeout = defaultApplyWriteTimeout
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = defaultHeartbeat
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SignIn == (signInLimit{}) {
		opts.SignIn = defaultSignInLimit
	}
	pages, err := console.New()
	if err != nil {
		return nil, err
	}
	ttl := time.Duration(cfg.App.AdminSessionTimeoutMinutes) * time.Minute
	if ttl <= 0 {
		ttl = time.Duration(lablink.DefaultConfig().App.AdminSessionTimeoutMinutes) * time.Minute
	}
	s := &server{l: l, cfg: cfg, log: opts.Logger, opts: opts, pages: pages,
		sessions: newSessions(ttl, opts.Now), limit: newSignInLimiter(opts.SignIn, opts.Now, opts.Logger)}
	s.userSum, s.passSum = digest(cfg.App.AdminUser), digest(cfg.App.AdminPassword.Reveal())

	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		var h http.Handler = rt.h
		if rt.methods != nil {
			h = allow(rt.h, rt.methods...)
		}
		switch rt.access {
		case api:
			h = s.authAPI(h)
		case page:
			h = s.authPage(h)
		}
		mux.Handle(rt.pattern, h)
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(s.crossOrigin))
	return s.logRequests(cop.Handler(mux)), nil
}

// crossOrigin answers a request that CrossOriginProtection refused.
func (s *server) crossOrigin(w http.ResponseWriter, r *http.Request) {
	s.log.WarnContext(r.Context(), "cross-origin request refused", "method", r.Method, "path", r.URL.Path,
		"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "remote", r.RemoteAddr)
	writeError(w, http.StatusForbidden, msgCrossOrigin)
}

const msgCrossOrigin = "cross-origin request refused: a page of another site may not act on this allocator"

// allow answers 405 with an Allow header to any method not in methods.
func allow(h http.HandlerFunc, methods ...string) http.HandlerFunc {
	list := strings.Join(methods, ", ")
	return func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", list)
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use "+list)
	}
}

// redirectTo sends upstream's admin pages to ours.
func redirectTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, path, http.StatusSeeOther)
	}
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok"))
}

func (s *server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "not found")
}

// errorJSON is the one shape of every error the server answers in JSON:
// what went wrong, and the audit record that tells more when there is one.
type errorJSON struct {
	Error    string `json:"error"`
	LaunchID string `json:"launch_id,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorJSON{Error: msg})
}
