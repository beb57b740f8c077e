// Package console renders the operator's console of examples/http: its
// HTML pages (html/template) and the assets they load (a style sheet, a
// small script, an icon), all embedded, so that a lab behind a firewall
// needs nothing from the internet to use it.
//
// The pages work without JavaScript: every action is a form, and a page
// that shows something running reloads itself every few seconds inside
// <noscript>. With JavaScript, console.js follows each running operation
// through the server's Server-Sent Events
// (/api/operations/{id}/events), moves its progress bar, announces status
// changes through an aria-live region, and reloads the parts of the page
// marked data-refresh when an operation ends.
//
// The package knows nothing of authentication or of the launcher's
// behaviour: examples/http builds the view models (Page and the types of
// views.go) and asks a Renderer to write them.
package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

//go:embed templates/*.html static/*
var files embed.FS

// Page is what every page shows: the layout's fields and the page's own
// Data (one of the types of views.go).
type Page struct {
	// Title names the page in the browser's tab and in its heading.
	Title string
	// Nav is the navigation entry the page belongs to: "overview",
	// "launch", "operations", "vms", "schedules" or "destroy"; "" for
	// none.
	Nav string
	// Schedules: the server keeps schedules, so the navigation links to
	// them and the overview says what is scheduled next.
	Schedules bool
	// User is the signed-in operator, "" on the sign-in page (which then
	// shows no navigation).
	User string
	// Environment names what the console manages.
	Environment string
	// Refresh makes the page reload itself every few seconds when
	// JavaScript is off, for pages that show something running.
	Refresh bool
	Data    any
}

// pageNames are the templates under templates/, each with the layout.
var pageNames = []string{"signin", "overview", "launch", "preview", "destroy", "operations", "operation",
	"record", "vms", "schedules", "schedule-add", "schedule-cancel", "error"}

// Renderer writes the console's pages. It is safe for concurrent use.
type Renderer struct {
	pages map[string]*template.Template
}

// New parses the embedded templates.
func New() (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(files,
			"templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

// Render writes page name with p and the given status, with the headers
// every page carries: no caching, no framing, no script, style or form
// target from elsewhere. The page is rendered in full before anything is
// written, so that a template error is a clean error, returned with
// nothing written. A failure to write is the client's (it went away),
// not the page's: it is not returned.
func (r *Renderer) Render(w http.ResponseWriter, status int, name string, p Page) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("console: no page %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("console: render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	securityHeaders(h)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// securityHeaders sets the headers that keep a page to itself: only its
// own scripts, styles and form targets, never in a frame, no referrer to
// other sites, no content sniffing.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// Assets serves the embedded style sheet, script and icon; mount it at
// /static/. They hold nothing secret: the sign-in page needs them.
func Assets() http.Handler {
	// The embedded tree holds static/ and templates/; mounted at /static/,
	// only static/ is reachable.
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/static/") || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fileServer.ServeHTTP(w, r)
	})
}

var funcs = template.FuncMap{
	"when":         when,
	"duration":     duration,
	"datetime":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"short":        short,
	"statusText":   statusText,
	"progressText": progressText,
	"actionText":   actionText,
	"plural":       plural,
	"local":        local,
	"inUTC":        inUTC,
	"isUTC":        isUTC,
	"grace":        grace,
	"anchor":       scheduleAnchor,
}

// when formats a time for an operator: UTC, to the second.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// duration rounds a time.Duration's text ("2.94101372s") for an
// operator: to a tenth of a second under a minute, to the second above.
func duration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// short shortens a digest ("sha256:…") or hash to its first 12 hex digits.
func short(s string) string {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// statusText names an operation's status or an audit record's outcome.
func statusText(v any) string {
	switch s := fmt.Sprint(v); s {
	case "queued":
		return "Queued"
	case "running", "started":
		return "Running"
	case "succeeded":
		return "Succeeded"
	case "failed":
		return "Failed"
	case "interrupted":
		return "Interrupted"
	case "refused":
		return "Refused"
	case "canceled":
		return "Canceled"
	case "superseded":
		return "Superseded"
	// A schedule's statuses and the outcomes of its times.
	case "scheduled":
		return "Scheduled"
	case "executing":
		return "Executing"
	case "completed":
		return "Completed"
	case "cancelled":
		return "Cancelled"
	case "claimed":
		return "Claimed"
	case "missed":
		return "Missed"
	default:
		return s
	}
}

func actionText(a string) string {
	if a == "destroy" {
		return "Destroy"
	}
	return "Launch"
}

// progressText says how far an operation is, as console.js says it too.
func progressText(op Op) string {
	switch {
	case op.Status == "queued":
		return "Waiting for its turn"
	case op.Total == 0 && op.Status == "running":
		return "Planning"
	case op.Total == 0:
		return "No resource changes"
	}
	return fmt.Sprintf("%d of %d resources", op.Completed, op.Total)
}

// plural returns "1 VM" or "3 VMs".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
