package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/plancheck"
	"github.com/lablink-go/lablink/schedule"
)

// launcherAPI is what the HTTP layer needs from a *launcher.Launcher.
// Unit tests use a hand fake.
type launcherAPI interface {
	launcher.Service
	Launch(ctx context.Context, req launcher.Request) (launcher.Result, error)
	Destroy(ctx context.Context, req launcher.Request) (launcher.Result, error)
	TFVarsPath() string
}

var _ launcherAPI = (*launcher.Launcher)(nil)

// serverOptions tunes newServer. The zero value means the defaults.
type serverOptions struct {
	// Logger receives request and launch logs. Default slog.Default().
	Logger *slog.Logger
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
}

const (
	defaultMaxBodyBytes      = 64 << 10
	defaultApplyWriteTimeout = time.Hour
	defaultHeartbeat         = 15 * time.Second
)

type server struct {
	l    launcherAPI
	log  *slog.Logger
	opts serverOptions
	// userSum and passSum are SHA-256 digests of the admin credentials;
	// comparing digests keeps the comparison constant-time even in the
	// lengths of the secrets.
	userSum, passSum [32]byte
}

// newServer returns the allocator's launch API in front of l, guarded by
// HTTP Basic auth against cfg.App.AdminUser and cfg.App.AdminPassword.
// It does not check the password policy; main does (checkAdminPassword).
func newServer(l launcherAPI, cfg lablink.Config, opts serverOptions) http.Handler {
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
	s := &server{l: l, log: opts.Logger, opts: opts}
	s.userSum, s.passSum = digest(cfg.App.AdminUser), digest(cfg.App.AdminPassword.Reveal())

	mux := http.NewServeMux()
	// Methods are checked by allow rather than by mux patterns so that
	// authentication comes first and the 405 body is JSON like the rest.
	mux.Handle("/healthz", allow(s.healthz, http.MethodGet, http.MethodHead))
	mux.Handle("/api/launch", s.auth(allow(s.launch, http.MethodPost)))
	mux.Handle("/api/destroy", s.auth(allow(s.destroy, http.MethodPost)))
	mux.Handle("/api/status", s.auth(allow(s.status, http.MethodGet, http.MethodHead)))
	mux.Handle("/api/operations", s.auth(allow(s.operations, http.MethodGet, http.MethodHead)))
	mux.Handle("/api/operations/{id}", s.auth(allow(s.operation, http.MethodGet, http.MethodHead)))
	mux.Handle("/api/operations/{id}/events", s.auth(allow(s.events, http.MethodGet)))
	s.scheduleRoutes(mux)
	mux.Handle("/api/", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})))
	return s.logRequests(mux)
}

// allow answers 405 with an Allow header to any method not in methods.
func allow(h http.HandlerFunc, methods ...string) http.Handler {
	list := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", list)
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use "+list)
	})
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok"))
}

// launchResponse is the JSON answer to a successful launch.
type launchResponse struct {
	LaunchID string `json:"launch_id"`
	// NumVMs is what this request asked for; Requested is the sum over
	// every request merged into the same apply.
	NumVMs       int      `json:"num_vms"`
	Existing     int      `json:"existing"`
	Requested    int      `json:"requested"`
	Total        int      `json:"total"`
	Merged       int      `json:"merged"`
	AllocatorURL string   `json:"allocator_url"`
	GPU          gpuJSON  `json:"gpu"`
	TFVarsSHA256 string   `json:"tfvars_sha256"`
	Plan         planJSON `json:"plan"`
	Audit        string   `json:"audit"`
	Duration     string   `json:"duration"`
}

type gpuJSON struct {
	InstanceType string       `json:"instance_type"`
	NVIDIA       bool         `json:"nvidia"`
	Source       string       `json:"source"`
	Region       string       `json:"region,omitempty"`
	CatalogDate  string       `json:"catalog_date,omitempty"`
	GPUs         []gpuDevJSON `json:"gpus"`
}

type gpuDevJSON struct {
	Manufacturer string `json:"manufacturer"`
	Name         string `json:"name"`
	Count        int    `json:"count"`
	MemoryMiB    int    `json:"memory_mib"`
}

func gpuView(i gpu.Info) gpuJSON {
	v := gpuJSON{InstanceType: i.InstanceType, NVIDIA: i.HasNVIDIA(), Source: string(i.Source),
		Region: i.Region, CatalogDate: i.CatalogDate, GPUs: []gpuDevJSON{}}
	for _, g := range i.GPUs {
		v.GPUs = append(v.GPUs, gpuDevJSON{g.Manufacturer, g.Name, g.Count, g.MemoryMiB})
	}
	return v
}

type planJSON struct {
	Create  int `json:"create"`
	Update  int `json:"update"`
	Delete  int `json:"delete"`
	Replace int `json:"replace"`
}

// launch queues a launch and answers at once, as upstream does: 202 with
// the job id to JSON clients, a redirect to the operation otherwise (see
// accepted). Where upstream answers 409 while another operation is queued
// or running, the launcher merges the request into the next apply. With
// ?wait=1 it answers when the launch is done, with its result
// (launchAndWait).
func (s *server) launch(w http.ResponseWriter, r *http.Request) {
	n, status, msg := s.numVMs(w, r)
	if status != 0 {
		writeError(w, status, msg)
		return
	}
	wait, ok := waitParam(r)
	if !ok {
		writeError(w, http.StatusBadRequest, msgBadWait)
		return
	}
	if wait {
		s.launchAndWait(w, r, n)
		return
	}
	if shuttingDown(r) {
		writeError(w, http.StatusServiceUnavailable, "server is shutting down; launch not queued")
		return
	}
	actor := actorOf(r)
	op, err := s.l.Start(opContext(r), launcher.Request{Count: n, Actor: actor})
	if err != nil {
		s.launchError(w, r, "launch", "", "", err)
		return
	}
	s.log.InfoContext(r.Context(), "launch queued", "actor", actor, "num_vms", n, "job_id", op.ID)
	s.follow(r, op)
	accepted(w, r, op)
}

// launchAndWait is POST /api/launch?wait=1: the launch as one request, for
// scripts that would rather not poll. Its answer is the apply's result.
func (s *server) launchAndWait(w http.ResponseWriter, r *http.Request, n int) {
	actor := actorOf(r)
	s.extendWriteDeadline(w, r)
	ctx, stop := launchContext(r)
	defer stop()

	s.log.InfoContext(ctx, "launch requested", "actor", actor, "num_vms", n)
	res, err := s.l.Launch(ctx, launcher.Request{Count: n, Actor: actor})
	if err != nil {
		s.launchError(w, r, "launch", res.LaunchID, res.Audit, err)
		return
	}
	s.log.InfoContext(ctx, "launch succeeded", "actor", actor, "num_vms", n, "launch_id", res.LaunchID,
		"existing", res.Existing, "total", res.Total, "merged", res.Merged, "duration", res.Duration)
	writeJSON(w, http.StatusOK, launchResponse{
		LaunchID:     res.LaunchID,
		NumVMs:       n,
		Existing:     res.Existing,
		Requested:    res.Requested,
		Total:        res.Total,
		Merged:       res.Merged,
		AllocatorURL: res.AllocatorURL,
		GPU:          gpuView(res.GPU),
		TFVarsSHA256: res.TFVarsSHA256,
		Plan:         planJSON{res.Plan.Add, res.Plan.Change, res.Plan.Destroy, res.Plan.Replace},
		Audit:        res.Audit,
		Duration:     res.Duration.String(),
	})
}

type destroyResponse struct {
	LaunchID  string `json:"launch_id"`
	Destroyed int    `json:"destroyed"`
	Audit     string `json:"audit"`
	Duration  string `json:"duration"`
}

// destroy queues a destroy and answers as launch does; ?wait=1 waits for
// it (destroyAndWait). Without the runtime tfvars of an earlier launch it
// answers the 404 of upstream's synchronous destroy at once: the launcher
// finds that only once the destroy runs (ErrNothingLaunched; today's
// upstream fails the operation then), when the client has its 202. A
// first launch still queued or running has not written the file yet, so
// a destroy sent behind it is refused.
func (s *server) destroy(w http.ResponseWriter, r *http.Request) {
	// The body is ignored, but bounded all the same.
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	wait, ok := waitParam(r)
	if !ok {
		writeError(w, http.StatusBadRequest, msgBadWait)
		return
	}
	if wait {
		s.destroyAndWait(w, r)
		return
	}
	if _, err := os.Stat(s.l.TFVarsPath()); errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusNotFound, launcher.ErrNothingLaunched.Error())
		return
	}
	if shuttingDown(r) {
		writeError(w, http.StatusServiceUnavailable, "server is shutting down; destroy not queued")
		return
	}
	actor := actorOf(r)
	op, err := s.l.Start(opContext(r), launcher.Request{Destroy: true, Actor: actor})
	if err != nil {
		s.launchError(w, r, "destroy", "", "", err)
		return
	}
	s.log.InfoContext(r.Context(), "destroy queued", "actor", actor, "job_id", op.ID)
	s.follow(r, op)
	accepted(w, r, op)
}

func (s *server) destroyAndWait(w http.ResponseWriter, r *http.Request) {
	actor := actorOf(r)
	s.extendWriteDeadline(w, r)
	ctx, stop := launchContext(r)
	defer stop()

	s.log.InfoContext(ctx, "destroy requested", "actor", actor)
	res, err := s.l.Destroy(ctx, launcher.Request{Actor: actor})
	if errors.Is(err, launcher.ErrNothingLaunched) {
		writeError(w, http.StatusNotFound, "no client VMs were launched")
		return
	}
	if err != nil {
		s.launchError(w, r, "destroy", res.LaunchID, res.Audit, err)
		return
	}
	s.log.InfoContext(ctx, "destroy succeeded", "actor", actor, "launch_id", res.LaunchID,
		"destroyed", res.Destroyed, "duration", res.Duration)
	writeJSON(w, http.StatusOK, destroyResponse{res.LaunchID, res.Destroyed, res.Audit, res.Duration.String()})
}

type statusResponse struct {
	VMs    int       `json:"vms"`
	TFVars bool      `json:"tfvars"`
	Busy   bool      `json:"busy"` // a launch or destroy is running
	Last   *lastJSON `json:"last"`
	// Orphans are client VMs the cloud holds and the state does not,
	// each with the commands that import or terminate it.
	Orphans []orphanJSON `json:"orphans"`
	// StateError says why the launcher refuses to plan from the local
	// state (restore its last good copy), "" when it is sound.
	StateError string `json:"state_error,omitempty"`
}

type orphanJSON struct {
	Name      string `json:"name"`
	ID        string `json:"id"`
	Index     int    `json:"index"`
	LaunchID  string `json:"launch_id"`
	Import    string `json:"import,omitempty"`
	Terminate string `json:"terminate"`
}

// lastJSON is the part of the newest audit manifest that status shows.
// The manifest's error text is left out: it can hold OpenTofu's stderr.
type lastJSON struct {
	LaunchID     string    `json:"launch_id"`
	Operation    string    `json:"operation"`
	Actor        string    `json:"actor"`
	Started      time.Time `json:"started"`
	Duration     string    `json:"duration"`
	Outcome      string    `json:"outcome"`
	Requested    int       `json:"requested"`
	Existing     int       `json:"existing"`
	Total        int       `json:"total"`
	TFVarsSHA256 string    `json:"tfvars_sha256"`
}

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.l.Status(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "status failed", "err", err)
		writeError(w, http.StatusInternalServerError, "status failed; see the server log")
		return
	}
	resp := statusResponse{VMs: len(st.VMs), TFVars: st.TFVars, Busy: st.Busy, Orphans: []orphanJSON{}}
	for _, o := range st.Orphans {
		resp.Orphans = append(resp.Orphans, orphanJSON{o.Name, o.ID, o.Index, o.LaunchID, o.Import, o.Terminate})
	}
	if st.State != nil {
		resp.StateError = "the local state cannot be planned from; restore its last good copy (lablink restore-state); see the server log"
		s.log.ErrorContext(r.Context(), "state refused", "err", st.State)
	}
	if m := st.Last; m != nil {
		resp.Last = &lastJSON{m.LaunchID, string(m.Action), m.Actor, m.Started, m.Duration, string(m.Outcome),
			m.Requested, m.Existing, m.Total, m.TFVarsSHA256}
	}
	writeJSON(w, http.StatusOK, resp)
}

// launchError maps a launch or destroy error to a response. Only errors
// whose text is ours reach the client; anything else (OpenTofu's stderr,
// SDK errors) goes to the log and the audit record only.
func (s *server) launchError(w http.ResponseWriter, r *http.Request, op, id, audit string, err error) {
	var refused *plancheck.RefusedError
	switch {
	case errors.Is(err, launcher.ErrInvalidCount):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.As(err, &refused):
		s.log.WarnContext(r.Context(), op+" refused", "launch_id", id, "addresses", refusedAddresses(refused))
		writeJSON(w, http.StatusConflict, map[string]any{
			"error":     plancheck.ErrRefused.Error(),
			"addresses": refusedAddresses(refused),
			"launch_id": id,
			"audit":     audit,
		})
	case errors.Is(err, launcher.ErrClosed), shuttingDown(r) && errors.Is(err, context.Canceled):
		s.log.WarnContext(r.Context(), op+" interrupted by shutdown", "launch_id", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "server is shutting down; "+op+" interrupted")
	case errors.Is(err, context.Canceled):
		// Only reachable without a server lifetime (see launchContext):
		// the client went away, and nobody reads this answer.
		s.log.WarnContext(r.Context(), op+" cancelled", "launch_id", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, op+" cancelled")
	default:
		s.log.ErrorContext(r.Context(), op+" failed", "launch_id", id, "audit", audit, "err", err)
		msg := op + " failed; see the server log"
		if id != "" {
			msg += " and the audit record of " + id
		}
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": msg, "launch_id": id, "audit": audit})
	}
}

// extendWriteDeadline gives a handler that waits for OpenTofu the long
// write deadline. Writers that cannot (httptest.ResponseRecorder) are left
// alone.
func (s *server) extendWriteDeadline(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Now().Add(s.opts.ApplyWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.WarnContext(r.Context(), "cannot extend write deadline", "err", err)
	}
}

// refusedAddresses lists the addresses a refused plan would have
// disturbed, each once, in plan order.
func refusedAddresses(e *plancheck.RefusedError) []string {
	var out []string
	for _, v := range e.Violations {
		if !slices.Contains(out, v.Address) {
			out = append(out, v.Address)
		}
	}
	return out
}

func actorOf(r *http.Request) string {
	u, _, _ := r.BasicAuth()
	return u
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
