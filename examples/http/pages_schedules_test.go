package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/console"
	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/schedule"
)

// console is a browser signed in on s at its clock's time (a session
// lasts 30 minutes of it).
func (s *scheduleServer) console(t *testing.T) *signedIn {
	return &signedIn{t, s.h, signIn(t, s.h)}
}

// scheduleForm is the add form filled in as an operator would for a
// weekly destroy in New York, with the fields in kv ("name", "x", …)
// changed.
func scheduleForm(kv ...string) url.Values {
	f := url.Values{"name": {"Friday lab end"}, "action": {"destroy"}, "time": {"2026-03-06T17:30"},
		"zone": {"America/New_York"}, "rule": {"FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=30"}, "num_vms": {""},
		"grace": {"5"}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// parse parses a page the test already checked (checkPage).
func parse(t *testing.T, page string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	require.NoError(t, err)
	return doc
}

// find returns the elements of doc for which match is true.
func find(doc *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
	}
	return out
}

// upcomingTimes are the datetime attributes of the next times listed for
// schedule id.
func upcomingTimes(t *testing.T, page string, id string) []string {
	t.Helper()
	var out []string
	for _, card := range find(parse(t, page), func(n *html.Node) bool { return attr(n, "id") == "schedule-"+id }) {
		for _, list := range find(card, func(n *html.Node) bool { return n.Data == "ol" && attr(n, "class") == "times" }) {
			for _, tm := range find(list, func(n *html.Node) bool { return n.Data == "time" }) {
				out = append(out, attr(tm, "datetime"))
			}
		}
	}
	return out
}

// TestSchedulesPageAdd: the empty list, the form (every field labelled,
// the defaults), a schedule added through it and listed with its rule in
// words and as an RRULE, its zone, its grace period and its next five
// times across the change to daylight-saving time; the overview's next
// scheduled time; the navigation.
func TestSchedulesPageAdd(t *testing.T) {
	s := newScheduleServer(t)
	c := s.console(t)
	body := c.get("/schedules", http.StatusOK)
	assert.Contains(t, body, "Nothing is scheduled.")
	assert.Contains(t, body, `<a href="/schedules" aria-current="page">Schedules</a>`)
	assert.Contains(t, c.get("/", http.StatusOK), "No launch or destroy is scheduled.")

	body = c.get("/schedules/new", http.StatusOK)
	for _, want := range []string{`name="name"`, `id="action-destroy" name="action" type="radio" value="destroy" checked`,
		`name="num_vms"`, `name="time" type="datetime-local"`, `name="zone"`, `value="UTC"`, `name="rule"`,
		`name="grace" type="number" inputmode="numeric" min="0" step="1" value="5"`} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, `aria-invalid`)

	w := c.post("/schedules/new", scheduleForm("num_vms", "7")) // a destroy ignores the number
	require.Equal(t, http.StatusSeeOther, w.Code, "body %s", w.Body)
	assert.Equal(t, "/schedules?added=1", w.Header().Get("Location"))
	sc, err := s.cal.Get(t.Context(), 1)
	require.NoError(t, err)
	assert.Equal(t, schedule.Destroy, sc.Action)
	assert.Equal(t, 0, sc.NumVMs)
	assert.Equal(t, testUser, sc.CreatedBy)
	assert.Equal(t, 5*time.Minute, sc.GracePeriod)

	body = c.get("/schedules?added=1", http.StatusOK)
	for _, want := range []string{`role="status" data-announce>The schedule “Friday lab end” was added.`, "Friday lab end",
		"pill-scheduled", "<strong>Destroy every client VM</strong> · Every Friday at 17:30",
		"<code>FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=30</code>", "<dd>America/New_York</dd>", "<dd>5 minutes</dd>",
		"Next 5 times", `<time datetime="2026-03-06T22:30:00Z">Fri 6 Mar 2026, 17:30 EST</time>`,
		`<time datetime="2026-03-13T21:30:00Z">Fri 13 Mar 2026, 17:30 EDT</time> <span class="muted utc">Fri 13 Mar, 21:30 UTC</span>`,
		`<a class="button quiet small cancel" href="/schedules/1/cancel">`} {
		assert.Contains(t, body, want)
	}
	assert.Equal(t, []string{"2026-03-06T22:30:00Z", "2026-03-13T21:30:00Z", "2026-03-20T21:30:00Z",
		"2026-03-27T21:30:00Z", "2026-04-03T21:30:00Z"}, upcomingTimes(t, body, "1"), "17:30 New York time, EST then EDT")

	// A one-off launch that comes sooner is the overview's next.
	w = c.post("/schedules/new", scheduleForm("name", "before the lab", "action", "launch", "num_vms", "30",
		"time", "2026-03-02T10:00", "zone", "", "rule", "", "grace", ""))
	require.Equal(t, http.StatusSeeOther, w.Code, "body %s", w.Body)
	body = c.get("/schedules", http.StatusOK)
	assert.Contains(t, body, "<strong>Launch 30 VMs</strong> · Once, on Mon 2 Mar 2026 at 10:00")
	assert.Equal(t, []string{"2026-03-02T10:00:00Z"}, upcomingTimes(t, body, "2"))
	assert.Less(t, strings.Index(body, `id="schedule-2"`), strings.Index(body, `id="schedule-1"`), "the soonest first")
	body = c.get("/", http.StatusOK)
	for _, want := range []string{"Next scheduled", "<p class=\"big-text\">Launch 30 VMs</p>",
		`<time datetime="2026-03-02T10:00:00Z">Mon 2 Mar 2026, 10:00 UTC</time><br>by the schedule <strong>before the lab</strong>`,
		`<a href="/schedules#schedule-2">`} {
		assert.Contains(t, body, want)
	}
}

// TestScheduleFormRefusals: each refused field is said next to its input
// (aria-invalid, its message in its aria-describedby, the first focused)
// and in the summary, in the form's order, with the values kept; nothing
// is added.
func TestScheduleFormRefusals(t *testing.T) {
	tests := []struct {
		name   string
		form   url.Values
		fields []string
		says   []string // each refused field's message holds these, in order
	}{
		{"past time", scheduleForm("time", "2026-03-02T03:59", "rule", ""), []string{"time"},
			[]string{"Must be in the future: 2026-03-02T08:59:00Z is not after 2026-03-02T09:00:00Z."}},
		{"bad rule", scheduleForm("rule", "FREQ=FORTNIGHTLY"), []string{"rule"}, []string{"Invalid format"}},
		{"rule too frequent", scheduleForm("rule", "FREQ=MINUTELY"), []string{"rule"}, []string{"Not supported: FREQ=MINUTELY"}},
		{"unknown zone", scheduleForm("zone", "Mars/Olympus_Mons"), []string{"zone"},
			[]string{"Unknown time zone: &#34;Mars/Olympus_Mons&#34;."}},
		{"no name", scheduleForm("name", " "), []string{"name"}, []string{"Required."}},
		{"no time", scheduleForm("time", ""), []string{"time"}, []string{"Required."}},
		{"launch without a number", scheduleForm("action", "launch"), []string{"num_vms"}, []string{msgRequired}},
		{"launch of no VMs", scheduleForm("action", "launch", "num_vms", "0"), []string{"num_vms"}, []string{msgNotPositive}},
		{"grace not a number", scheduleForm("grace", "soon"), []string{"grace"}, []string{"Give a whole number of minutes."}},
		{"grace negative", scheduleForm("grace", "-1"), []string{"grace"}, []string{"Give 0 to 43200 minutes"}},
		{"every problem at once, in the form's order", scheduleForm("grace", "x", "zone", "Nowhere", "name", ""),
			[]string{"name", "zone", "grace"}, []string{"Required.", "Unknown time zone", "Give a whole number"}},
		{"the past found beside a bad number", scheduleForm("action", "launch", "num_vms", "many", "time", "2026-03-01T12:00"),
			[]string{"num_vms", "time"}, []string{msgNotInteger, "Must be in the future"}},
		{"a name taken", scheduleForm("name", "taken"), []string{"name"},
			[]string{"A schedule named &#34;taken&#34; exists; ended and cancelled schedules keep their names."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScheduleServer(t)
			_, err := s.cal.Create(t.Context(), schedule.Request{Name: "taken", Time: at(time.Hour)})
			require.NoError(t, err)
			c := s.console(t)
			w := c.post("/schedules/new", tc.form)
			require.Equal(t, http.StatusBadRequest, w.Code, "body %s", w.Body)
			body := w.Body.String()
			checkPage(t, tc.name, body)
			doc := parse(t, body)
			var invalid []string
			for _, n := range find(doc, func(n *html.Node) bool { return attr(n, "aria-invalid") == "true" }) {
				invalid = append(invalid, attr(n, "id"))
				assert.Contains(t, attr(n, "aria-describedby"), attr(n, "id")+"-error", "%s: the error describes its input", attr(n, "id"))
			}
			assert.Equal(t, tc.fields, invalid, "the inputs marked invalid")
			autofocus := find(doc, func(n *html.Node) bool { return n.Data == "input" && hasAttr(n, "autofocus") })
			require.Len(t, autofocus, 1, "one field takes the focus")
			assert.Equal(t, tc.fields[0], attr(autofocus[0], "id"), "the first refused field takes the focus")
			for i, f := range tc.fields {
				errText := find(doc, func(n *html.Node) bool { return attr(n, "id") == f+"-error" })
				require.Len(t, errText, 1, "%s: its message", f)
				assert.Contains(t, renderHTML(t, errText[0]), tc.says[i], "%s: its message", f)
				assert.Contains(t, body, `<a href="#`+f+`">`, "%s: in the summary", f)
			}
			assert.Contains(t, body, `role="alert" id="form-problems"`)
			for _, f := range []string{"name", "time", "zone", "rule", "grace"} {
				assert.Contains(t, body, `name="`+f+`"`, f)
				if v := tc.form.Get(f); v != "" {
					assert.Contains(t, body, `value="`+html.EscapeString(v)+`"`, "%s: the value typed is kept", f)
				}
			}
			list, err := s.cal.List(t.Context(), "")
			require.NoError(t, err)
			assert.Len(t, list, 1, "schedules after a refused form")
		})
	}
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func renderHTML(t *testing.T, n *html.Node) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, html.Render(&b, n))
	return b.String()
}

// TestScheduleCancelPage: the cancel asks first (GET), cancels on the
// post, and the list then shows the schedule ended, without its cancel;
// a second cancel, an unknown schedule and a GET of the form of an ended
// one are refused.
func TestScheduleCancelPage(t *testing.T) {
	s := newScheduleServer(t)
	for _, name := range []string{"end of lab", "next week"} {
		_, err := s.cal.Create(t.Context(), schedule.Request{Name: name, Time: at(time.Hour),
			RecurrenceRule: "FREQ=DAILY"})
		require.NoError(t, err)
	}
	c := s.console(t)
	body := c.get("/schedules/1/cancel", http.StatusOK)
	for _, want := range []string{"Cancel the schedule end of lab?", `<form method="post" action="/schedules/1/cancel"`,
		">Cancel the schedule</button>", `<a class="button quiet" href="/schedules">Keep it</a>`, "Every day at 10:00"} {
		assert.Contains(t, body, want)
	}
	sc, err := s.cal.Get(t.Context(), 1)
	require.NoError(t, err)
	assert.Equal(t, schedule.StatusScheduled, sc.Status, "the confirmation cancels nothing")

	w := c.post("/schedules/1/cancel", nil)
	require.Equal(t, http.StatusSeeOther, w.Code, "body %s", w.Body)
	assert.Equal(t, "/schedules?cancelled=1", w.Header().Get("Location"))
	sc, err = s.cal.Get(t.Context(), 1)
	require.NoError(t, err)
	assert.Equal(t, schedule.StatusCancelled, sc.Status)
	assert.Equal(t, testUser, sc.CancelledBy)

	body = c.get("/schedules?cancelled=1", http.StatusOK)
	assert.Contains(t, body, "The schedule “end of lab” was cancelled: none of its times will run.")
	assert.Contains(t, body, "pill-cancelled")
	assert.Less(t, strings.Index(body, `id="ended-h"`), strings.Index(body, `id="schedule-1"`), "listed as ended")
	assert.NotContains(t, body, `href="/schedules/1/cancel"`)
	assert.Contains(t, body, `href="/schedules/2/cancel"`)
	assert.Empty(t, upcomingTimes(t, body, "1"), "the times of a cancelled schedule")
	assert.Len(t, upcomingTimes(t, body, "2"), 5)

	w = c.post("/schedules/1/cancel", nil)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	checkPage(t, "a second cancel", w.Body.String())
	assert.Contains(t, w.Body.String(), "This schedule is cancelled: nothing of it is left to cancel.")
	body = c.get("/schedules/1/cancel", http.StatusOK)
	assert.NotContains(t, body, "<form method=\"post\" action=\"/schedules/1/cancel\"", "no cancel offered")
	c.get("/schedules/99/cancel", http.StatusNotFound)
	c.get("/schedules/x/cancel", http.StatusNotFound)
	assert.Equal(t, http.StatusNotFound, c.post("/schedules/0/cancel", nil).Code)
}

// TestSchedulesPagePast: each past time links to the operation it
// became, which links back; a missed one says why; the overview says
// nothing is scheduled once they ended.
func TestSchedulesPagePast(t *testing.T) {
	s := newScheduleServer(t)
	sched := schedule.NewScheduler(s.cal, setup.NewRunner(s.fake, publicError),
		&schedule.SchedulerOptions{Owner: "test", Logger: testLogger(t)})
	t.Cleanup(func() { _ = sched.Close() })
	c := s.console(t)
	for _, form := range []url.Values{
		scheduleForm("name", "end of lab", "time", "2026-03-02T10:00", "zone", "UTC", "rule", ""),
		scheduleForm("name", "nobody ran", "time", "2026-03-02T11:00", "zone", "UTC", "rule", "", "grace", "0"),
	} {
		require.Equal(t, http.StatusSeeOther, c.post("/schedules/new", form).Code)
	}
	s.clock.Set(t0.Add(time.Hour + time.Second))
	require.NoError(t, sched.Tick(t.Context()))
	waitSchedule(t, s, "/api/schedule-destruction/1", schedule.StatusCompleted)
	s.clock.Set(t0.Add(2*time.Hour + time.Minute)) // a minute late, with no grace
	require.NoError(t, sched.Tick(t.Context()))
	waitSchedule(t, s, "/api/schedule-destruction/2", schedule.StatusFailed)

	c = s.console(t) // the first session has expired on the test's clock
	body := c.get("/schedules", http.StatusOK)
	for _, want := range []string{`<a href="/operations/1">Operation 1</a>`, "pill-completed", "completed: operation 1",
		"pill-missed", "<span class=\"muted\">None</span>", "Nothing is scheduled."} {
		assert.Contains(t, body, want)
	}
	sc, err := s.cal.Get(t.Context(), 2)
	require.NoError(t, err)
	reason := strings.TrimPrefix(sc.LastExecutionResult, "missed: ")
	require.NotEmpty(t, reason)
	assert.Contains(t, body, `<span class="reason">`+html.EscapeString(reason)+`</span>`, "why it was missed")
	assert.Contains(t, c.get("/operations/1", http.StatusOK), `(<a href="/schedules#schedule-1">schedule 1</a>)`)
	assert.Contains(t, c.get("/operations", http.StatusOK), `(<a href="/schedules#schedule-1">schedule 1</a>)`)
	assert.Contains(t, c.get("/", http.StatusOK), "No launch or destroy is scheduled.")
}

// failingList is a store whose List fails once broken is set.
type failingList struct {
	audit.Store
	broken bool
}

func (f *failingList) List(ctx context.Context, prefix string, opts audit.ListOptions) ([]string, error) {
	if f.broken {
		return nil, errors.New("list: AccessDenied on s3://bucket/secret-prefix")
	}
	return f.Store.List(ctx, prefix, opts)
}

// TestSchedulesPagesStoreFailure: a store that cannot list fails the
// schedules page with where to look, and only the overview's card of
// schedules; without a Calendar the console has no schedules.
func TestSchedulesPagesStoreFailure(t *testing.T) {
	store := &failingList{Store: audit.NewDirStore(t.TempDir())}
	cal, err := schedule.NewCalendar(store, "prod", nil)
	require.NoError(t, err)
	h := newTestHandler(t, newFake(t), serverOptions{Calendar: cal})
	c := &signedIn{t, h, signIn(t, h)}
	store.broken = true
	body := c.get("/schedules", http.StatusInternalServerError)
	assert.Contains(t, body, "Reading the schedules failed; the server log says why.")
	assert.NotContains(t, body, "secret-prefix")
	body = c.get("/", http.StatusOK)
	assert.Contains(t, body, "The schedules cannot be read now")
	assert.NotContains(t, body, "secret-prefix")

	none := newConsole(t, newFake(t))
	body = none.get("/", http.StatusOK)
	assert.NotContains(t, body, "Next scheduled")
	assert.NotContains(t, body, `href="/schedules"`)
	assert.Equal(t, http.StatusNotFound, getPage(none.h, "/schedules", none.cookie).Code)
}

// TestFormProblemsNested: the form lists every refused field of a
// refusal, joined at any depth, as the API does, and is no form problem
// when a store's error is among them.
func TestFormProblemsNested(t *testing.T) {
	name := &schedule.FieldError{Field: "schedule_name", Err: schedule.ErrRequired}
	zone := &schedule.FieldError{Field: "time_zone", Err: errors.New("unknown time zone")}
	grace := &schedule.FieldError{Field: "grace_period_seconds", Err: errors.New("want at least 0")}
	got, ok := formProblems(errors.Join(name, errors.Join(zone, grace)))
	require.True(t, ok, "only refused fields")
	assert.Equal(t, []console.FieldProblem{{Field: "name", Label: "Name", Message: "Required."},
		{Field: "zone", Label: "Time zone", Message: "Unknown time zone."},
		{Field: "grace", Label: "Grace period", Message: "Want at least 0."}}, got)

	_, ok = formProblems(errors.Join(name, errors.Join(zone, errors.New("disk full"))))
	assert.False(t, ok, "a store's error among the fields")
}
