package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/console"
	"github.com/lablink-go/lablink/launcher"
)

// The console's pages (see package internal/console). Every state change
// they offer is a form posted to this server, which is under the
// cross-origin protection of every non-GET request (newServer).

// Page sizes of the console.
const (
	overviewRunning = 20
	overviewRecent  = 8
	opsPage         = 50
)

// render writes page name, with the layout's fields filled in for the
// client of r. A template that fails is a bug: logged, and answered 500.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, p console.Page) {
	p.User = actorOf(r)
	if p.User != "" {
		p.Environment = s.opts.Environment
		p.Schedules = s.opts.Calendar != nil
	}
	if err := s.pages.Render(w, status, name, p); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		writeError(w, http.StatusInternalServerError, "the page could not be rendered; see the server log")
	}
}

// errorPage answers a page that cannot be shown.
func (s *server) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	s.render(w, r, status, "error", console.Page{Title: heading, Data: console.ErrorPage{Heading: heading, Message: msg}})
}

// failedPage answers a page whose data the launcher could not give: the
// error goes to the log, the operator is told where to look.
func (s *server) failedPage(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.ErrorContext(r.Context(), what+" failed", "path", r.URL.Path, "err", err)
	s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
		capitalize(what)+" failed; the server log says why.")
}

// deployment is the name the destroy page asks the operator to type:
// deployment_name, or "lablink" as upstream's state key falls back to.
func (s *server) deployment() string {
	if s.cfg.DeploymentName != "" {
		return s.cfg.DeploymentName
	}
	return "lablink"
}

// notFound answers a path no route has: a page to browsers, JSON to
// others.
func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	s.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
}

func (s *server) overviewPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st, err := s.l.Status(ctx)
	if err != nil {
		s.failedPage(w, r, "reading the state", err)
		return
	}
	running, _, err := s.l.Ops(ctx, audit.OpQuery{Limit: overviewRunning,
		Statuses: []audit.OpStatus{audit.StatusQueued, audit.StatusRunning}})
	if err != nil {
		s.failedPage(w, r, "reading the operations", err)
		return
	}
	recent, _, err := s.l.Ops(ctx, audit.OpQuery{Limit: overviewRecent})
	if err != nil {
		s.failedPage(w, r, "reading the operations", err)
		return
	}
	data := console.Overview{VMs: len(st.VMs), Stale: staleVMs(st.VMs), Orphans: len(st.Orphans),
		InventoryProblem: st.InventoryError != nil, StateProblem: st.State != nil, Running: pageOps(running), Recent: pageOps(recent), Last: st.Last}
	// The schedules are a card of the overview: one that cannot be read
	// says so there, and the rest of the page shows.
	if data.Next, err = s.nextScheduled(ctx); err != nil {
		s.log.ErrorContext(ctx, "read schedules", "err", err)
		data.SchedulesProblem = true
	}
	s.render(w, r, http.StatusOK, "overview", console.Page{Title: "Overview", Nav: "overview",
		Refresh: len(running) > 0, Data: data})
}

func staleVMs(vms []launcher.VM) int {
	n := 0
	for _, vm := range vms {
		if vm.Stale {
			n++
		}
	}
	return n
}

func (s *server) operationsPage(w http.ResponseWriter, r *http.Request) {
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			s.errorPage(w, r, http.StatusBadRequest, "No such page", "The list of operations has no such page.")
			return
		}
		before = n
	}
	ops, next, err := s.l.Ops(r.Context(), audit.OpQuery{Limit: opsPage, Before: before})
	if err != nil {
		s.failedPage(w, r, "reading the operations", err)
		return
	}
	live := false
	for _, op := range ops {
		live = live || op.Status.Live()
	}
	s.render(w, r, http.StatusOK, "operations", console.Page{Title: "Operations", Nav: "operations", Refresh: live,
		Data: console.OpsList{Ops: pageOps(ops), Next: next, Before: before}})
}

func (s *server) operationPage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.errorPage(w, r, http.StatusNotFound, "No such operation", "There is no operation "+r.PathValue("id")+".")
		return
	}
	op, err := s.l.Op(r.Context(), id)
	if errors.Is(err, audit.ErrNoOperation) {
		s.errorPage(w, r, http.StatusNotFound, "No such operation", "There is no operation "+itoa(id)+".")
		return
	}
	if err != nil {
		s.failedPage(w, r, "reading the operation", err)
		return
	}
	d := console.OpDetail{Op: pageOp(op)}
	switch {
	case op.LaunchID != "":
		if rec, err := s.record(r, op.LaunchID); err == nil {
			d.Record = &rec
		} else {
			d.RecordMissing = "The audit record " + op.LaunchID + " cannot be read now; the server log says why."
		}
	case op.Status.Live():
		d.RecordMissing = "The audit record appears when the apply begins."
	default:
		d.RecordMissing = "This operation ended before an apply began: it has no audit record."
	}
	s.render(w, r, http.StatusOK, "operation", console.Page{Title: d.Op.Label(), Nav: "operations",
		Refresh: op.Status.Live(), Data: d})
}

// recordPage is the audit record of one launch or destroy, by its id.
func (s *server) recordPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validLaunchID(id) {
		s.errorPage(w, r, http.StatusNotFound, "No such record", "There is no audit record with this id.")
		return
	}
	rec, err := s.record(r, id)
	if errors.Is(err, audit.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, "No such record", "There is no audit record "+id+".")
		return
	}
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
			"The audit record "+id+" cannot be read now; the server log says why.")
		return
	}
	s.render(w, r, http.StatusOK, "record", console.Page{Title: "Audit record " + id, Nav: "operations", Data: rec})
}

// record reads audit record id for a page: the text of its error only
// when it is the launcher's own (ownText), its tfvars as
// stored, sensitive values redacted.
func (s *server) record(r *http.Request, id string) (console.Record, error) {
	m, data, err := s.l.Record(r.Context(), id)
	if err != nil {
		if !errors.Is(err, audit.ErrNotFound) {
			s.log.ErrorContext(r.Context(), "read audit record", "launch_id", id, "err", err)
		}
		return console.Record{}, err
	}
	rec := console.Record{Manifest: m, TFVars: string(data)}
	rec.Manifest.Error = ""
	if m.Error != "" {
		rec.Error = string(m.Action) + " failed; the server log has OpenTofu's output"
		if msg, ok := ownText(m.Error); ok {
			rec.Error = msg
		}
	}
	return rec, nil
}

// validLaunchID reports an id that can name an audit record: one path
// segment of letters, digits, dots, dashes and underscores.
func validLaunchID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-", c)) {
			return false
		}
	}
	return true
}

// pageOp is op as the pages show it.
func pageOp(op audit.Op) console.Op {
	v := console.Op{ID: op.ID, Action: opName(op.Action), Status: string(op.Status), CreatedBy: op.CreatedBy,
		CreatedAt: op.CreatedAt, StartedAt: op.StartedAt, FinishedAt: op.FinishedAt, Error: publicError(op),
		Total: op.ResourcesTotal, Completed: op.ResourcesCompleted, LaunchID: op.LaunchID}
	if op.Action != audit.Destroy {
		v.NumVMs = intParam(op.Params["num_vms"])
	}
	v.Schedule, _ = op.Params["schedule"].(string)
	// setup.OccurrenceLink: "<schedule id>@<time>".
	if id, _, ok := strings.Cut(v.Schedule, "@"); ok {
		v.ScheduleID, _ = strconv.ParseInt(id, 10, 64)
	}
	return v
}

func pageOps(ops []audit.Op) []console.Op {
	out := make([]console.Op, len(ops))
	for i, op := range ops {
		out[i] = pageOp(op)
	}
	return out
}

// intParam reads a number of an operation's params: an int as the
// launcher makes it, a float64 or json.Number as a stored record reads.
func intParam(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	case json.Number:
		i, _ := n.Int64()
		return int(i)
	}
	return 0
}
