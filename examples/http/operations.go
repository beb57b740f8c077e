package main

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/plancheck"
)

// Limits of GET /api/operations: upstream lists the last 50.
const (
	defaultOpsLimit = 50
	maxOpsLimit     = 200
)

const (
	msgBadWait    = "invalid wait parameter; want wait=1 to wait for the operation, or no wait parameter"
	msgBadOpID    = "invalid operation id"
	msgNoSuchOp   = "Operation not found" // upstream's words
	msgBadLimit   = "invalid limit; want a whole number from 1 to 200"
	msgBadBefore  = "invalid before; want the id of an operation, a whole number from 1"
	msgBadStatus  = "invalid status; want in_progress, queued, running, succeeded, failed or interrupted"
	msgOpsFailure = "reading operations failed; see the server log"
)

// acceptedJSON is upstream's answer to a queued launch or destroy.
type acceptedJSON struct {
	JobID  int64          `json:"job_id"`
	Status audit.OpStatus `json:"status"`
}

// accepted answers a queued operation: 202 with its id to a JSON client,
// a 303 redirect to the operation's page to others (upstream redirects
// the admin page's form posts back to its admin page).
func accepted(w http.ResponseWriter, r *http.Request, op audit.Op) {
	id := itoa(op.ID)
	if !wantsJSON(r) {
		http.Redirect(w, r, "/operations/"+id, http.StatusSeeOther)
		return
	}
	w.Header().Set("Location", "/api/operations/"+id)
	writeJSON(w, http.StatusAccepted, acceptedJSON{op.ID, op.Status})
}

// wantsJSON reports whether the client is a JSON client: it sent a JSON
// body, or application/json is the media type its Accept header prefers
// (upstream asks Flask for accept_mimetypes.best, the first of the
// highest quality).
func wantsJSON(r *http.Request) bool {
	if isJSON(r) {
		return true
	}
	best, bestQ := "", 0.0
	for _, h := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(v, 64); err != nil {
					continue
				}
			}
			if q > bestQ {
				best, bestQ = mt, q
			}
		}
	}
	return best == "application/json"
}

// waitParam reads ?wait: absent, "0" or "false" queue the operation and
// answer at once; "1" or "true" wait for it. ok is false for other values.
func waitParam(r *http.Request) (wait, ok bool) {
	v, present := r.URL.Query()["wait"]
	if !present {
		return false, true
	}
	b, err := strconv.ParseBool(v[0])
	return b, err == nil
}

// follow watches op until it is final and logs its outcome: the launch's
// error, which the API shows only in part (publicError), goes to the log
// in full. Until then the operation counts as the server's background
// work, which shutdown waits for (see serve).
func (s *server) follow(r *http.Request, op audit.Op) {
	work := backgroundOf(r.Context())
	work.add()
	ctx := context.WithoutCancel(r.Context())
	go func() {
		defer work.done()
		final, err := launcher.Wait(ctx, s.l, op.ID)
		if err != nil {
			s.log.ErrorContext(ctx, "follow operation", "job_id", op.ID, "err", err)
			return
		}
		s.logOutcome(ctx, final)
	}()
}

func (s *server) logOutcome(ctx context.Context, op audit.Op) {
	name := opName(op.Action)
	attrs := []any{"job_id", op.ID, "actor", op.CreatedBy, "launch_id", op.LaunchID,
		"resources_total", op.ResourcesTotal, "resources_completed", op.ResourcesCompleted}
	switch op.Status {
	case audit.StatusSucceeded:
		s.log.InfoContext(ctx, name+" succeeded", attrs...)
	case audit.StatusInterrupted:
		s.log.WarnContext(ctx, name+" interrupted by shutdown", append(attrs, "err", op.Error)...)
	default:
		s.log.ErrorContext(ctx, name+" failed", append(attrs, "status", op.Status, "err", op.Error)...)
	}
}

func opName(t audit.Action) string {
	if t == audit.Destroy {
		return "destroy"
	}
	return "launch"
}

// opJSON is an operation as the API shows it: upstream's fields, then the
// environment, the audit record of the apply that carried it (launch_id)
// and the time of the last change. The owning process and the record's
// nonce are the store's business.
type opJSON struct {
	ID         int64          `json:"id"`
	Type       string         `json:"op_type"` // audit.Action.OpType
	Status     audit.OpStatus `json:"status"`
	Params     map[string]any `json:"params"`
	CreatedBy  string         `json:"created_by"`
	CreatedAt  time.Time      `json:"created_at"`
	StartedAt  *time.Time     `json:"started_at"`
	FinishedAt *time.Time     `json:"finished_at"`
	// Output is always null: upstream shows the apply's stdout there; the
	// launcher keeps none in the record, and this server would not show
	// OpenTofu's output anyway (see publicError).
	Output *string `json:"output"`
	// Error is null unless the operation failed or was interrupted.
	Error *string `json:"error"`
	// ResourcesTotal and ResourcesCompleted count the resource changes of
	// the apply that carried the operation: requests merged into one
	// apply show the same progress.
	ResourcesTotal     int       `json:"resources_total"`
	ResourcesCompleted int       `json:"resources_completed"`
	Environment        string    `json:"environment"`
	LaunchID           string    `json:"launch_id,omitempty"`
	UpdatedAt          time.Time `json:"updated_at"`
}

func opView(op audit.Op) opJSON {
	v := opJSON{ID: op.ID, Type: op.Action.OpType(), Status: op.Status, Params: op.Params, CreatedBy: op.CreatedBy,
		CreatedAt: op.CreatedAt, StartedAt: op.StartedAt, FinishedAt: op.FinishedAt,
		ResourcesTotal: op.ResourcesTotal, ResourcesCompleted: op.ResourcesCompleted,
		Environment: op.Environment, LaunchID: op.LaunchID, UpdatedAt: op.UpdatedAt}
	if v.Params == nil {
		v.Params = map[string]any{}
	}
	if msg := publicError(op); msg != "" {
		v.Error = &msg
	}
	return v
}

// publicError is the part of an operation's error the API shows. The
// record's text can hold OpenTofu's stderr (values of variables, paths,
// provider errors); upstream returns it, this server shows only text
// that is its own or the launcher's, as launchError does for ?wait=1: a
// refused plan's reasons (plancheck names addresses, attributes and
// ports, never values), upstream's "no client VMs were launched", and
// otherwise where to look. The record is classified by its text: it
// keeps no error type (the launcher wraps every other error it stores as
// "launch: ..." or "destroy: ...").
func publicError(op audit.Op) string {
	name := opName(op.Action)
	see := "see the server log"
	if op.LaunchID != "" {
		see += " and the audit record of " + op.LaunchID
	}
	switch op.Status {
	case audit.StatusInterrupted:
		return "interrupted: the allocator stopped before the " + name + " finished; " + see
	case audit.StatusFailed:
	default:
		return ""
	}
	if msg, ok := ownText(op.Error); ok {
		return msg
	}
	if op.Error == launcher.ErrClosed.Error() {
		return "the server shut down before the " + name + " ran"
	}
	return name + " failed; " + see
}

// ownText is the part of a stored error (an operation's or an audit
// record's) that is the launcher's own words and so may be shown: its
// first line without the launcher's "launch: " or "destroy: ", when
// that is a refused plan's reasons or ErrNothingLaunched. ok is false
// for any other text, which can hold OpenTofu's stderr.
func ownText(stored string) (msg string, ok bool) {
	first, _, _ := strings.Cut(stored, "\n")
	bare := strings.TrimPrefix(strings.TrimPrefix(first, "launch: "), "destroy: ")
	if isRefused(bare) || bare == launcher.ErrNothingLaunched.Error() {
		return bare, true
	}
	return "", false
}

// isRefused reports the public text of a plan the guard refused.
func isRefused(msg string) bool {
	return strings.HasPrefix(msg, plancheck.ErrRefused.Error()+": ")
}

// operations is GET /api/operations: the newest operations first, 50 by
// default (upstream's number), up to ?limit=200; ?before=ID starts the
// page below that id, and a Link header (rel="next") names the next page
// when there is one. Each page reads about limit records whatever the
// history holds. ?status=in_progress lists the queued and running ones;
// ?status=<status> those of one status. Upstream answers
// ?status=in_progress with one operation or null, since it runs one at a
// time; requests merged here can be several, so this is a list like the
// others.
func (s *server) operations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := defaultOpsLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxOpsLimit {
			writeError(w, http.StatusBadRequest, msgBadLimit)
			return
		}
		limit = n
	}
	var before int64
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, msgBadBefore)
			return
		}
		before = n
	}
	var statuses []audit.OpStatus
	switch st := audit.OpStatus(q.Get("status")); st {
	case "":
	case "in_progress":
		statuses = []audit.OpStatus{audit.StatusQueued, audit.StatusRunning}
	case audit.StatusQueued, audit.StatusRunning, audit.StatusSucceeded, audit.StatusFailed, audit.StatusInterrupted:
		statuses = []audit.OpStatus{st}
	default:
		writeError(w, http.StatusBadRequest, msgBadStatus)
		return
	}
	ops, next, err := s.l.Ops(r.Context(), audit.OpQuery{Limit: limit, Before: before, Statuses: statuses})
	if err != nil {
		s.log.ErrorContext(r.Context(), "list operations", "err", err)
		writeError(w, http.StatusInternalServerError, msgOpsFailure)
		return
	}
	out := make([]opJSON, 0, len(ops))
	for _, op := range ops {
		out = append(out, opView(op))
	}
	if next > 0 {
		nq := r.URL.Query()
		nq.Set("before", strconv.FormatInt(next, 10))
		nq.Set("limit", strconv.Itoa(limit))
		w.Header().Set("Link", fmt.Sprintf(`</api/operations?%s>; rel="next"`, nq.Encode()))
	}
	writeJSON(w, http.StatusOK, out)
}

// operation is GET /api/operations/{id}.
func (s *server) operation(w http.ResponseWriter, r *http.Request) {
	id, ok := opID(w, r)
	if !ok {
		return
	}
	op, err := s.l.Op(r.Context(), id)
	if !s.opFound(w, r, id, err) {
		return
	}
	writeJSON(w, http.StatusOK, opView(op))
}

// opID reads the {id} of the path; false when it has answered 400.
func opID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, msgBadOpID)
		return 0, false
	}
	return id, true
}

// opFound answers 404 for an unknown operation and 500 for a failure of
// the store, and reports whether err is nil.
func (s *server) opFound(w http.ResponseWriter, r *http.Request, id int64, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, audit.ErrNoOperation):
		writeError(w, http.StatusNotFound, msgNoSuchOp)
	default:
		s.log.ErrorContext(r.Context(), "read operation", "job_id", id, "err", err)
		writeError(w, http.StatusInternalServerError, msgOpsFailure)
	}
	return false
}
