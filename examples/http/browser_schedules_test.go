package main

import (
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// schedules: a weekly destroy in New York added through the form, by
// keyboard: a rule the form refuses is said next to its input, the
// right one adds it, and the list shows it with its next five times
// (at 320 px too); then it is cancelled after the confirmation. Nothing
// fires: its first time is a week ahead.
func (b *tab) schedules() {
	t := b.t
	b.do("open the schedules", chromedp.Click(chromedp.CSS(`nav a[href="/schedules"]`)),
		chromedp.WaitVisible(chromedp.ID("active")))
	assert.Contains(t, b.pageText(), "Nothing is scheduled.")
	b.page("schedules-empty")
	b.press("Add a schedule")
	b.do("open the form", chromedp.WaitVisible(chromedp.ID("name")))
	assert.Equal(t, "true", b.eval(`String(document.getElementById("num_vms").disabled)`),
		"the number of VMs is off while a destroy is chosen")
	b.page("schedule-add")

	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	first := time.Now().In(ny).AddDate(0, 0, 7)
	for first.Weekday() != time.Friday {
		first = first.AddDate(0, 0, 1)
	}
	first = time.Date(first.Year(), first.Month(), first.Day(), 17, 30, 0, 0, ny)
	// A datetime-local field is typed in the order of the browser's
	// locale; its value is set as its picker sets it.
	value := first.Format("2006-01-02T15:04")
	assert.Equal(t, value, b.eval(`(function(){var e=document.getElementById("time"); e.value="`+value+`"; return e.value})()`))
	b.do("fill in the form", chromedp.SendKeys(chromedp.ID("name"), "Friday lab end"),
		chromedp.Clear(chromedp.ID("zone")), chromedp.SendKeys(chromedp.ID("zone"), "America/New_York"),
		chromedp.SendKeys(chromedp.ID("rule"), "FREQ=WEEKLY;BYDAY=FRI\n"),
		chromedp.WaitVisible(chromedp.ID("rule-error")))
	assert.Equal(t, "true", b.eval(`document.getElementById("rule").getAttribute("aria-invalid")`))
	assert.Equal(t, "rule", b.eval(`document.activeElement.id`), "the refused field has the focus")
	assert.Contains(t, b.text("#form-problems"), "Recurrence rule: Invalid format")
	assert.Equal(t, "Friday lab end", b.eval(`document.getElementById("name").value`), "the name is kept")
	b.page("schedule-refused")

	b.do("correct the rule", chromedp.Clear(chromedp.ID("rule")),
		chromedp.SendKeys(chromedp.ID("rule"), "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=30\n"),
		chromedp.WaitVisible(chromedp.ID("schedule-1")))
	assert.Equal(t, "/schedules?added=1", b.eval(`location.pathname + location.search`))
	assert.Equal(t, "The schedule “Friday lab end” was added.", b.text(".alert-ok"))
	assert.Contains(t, b.text("#schedule-1 .schedule-what"), "Every Friday at 17:30")
	times := b.eval(`Array.from(document.querySelectorAll("#schedule-1 ol.times time")).map(e => e.dateTime).join(" ")`)
	var want []string
	for i := range 5 {
		want = append(want, first.AddDate(0, 0, 7*i).UTC().Format(time.RFC3339))
	}
	assert.Equal(t, strings.Join(want, " "), times, "the next five times, 17:30 New York time")
	b.page("schedules")
	b.viewport("schedules-docs", 1024, 900)
	b.do("narrow", chromedp.EmulateViewport(320, 640), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("schedule-1")))
	assert.Equal(t, "true", b.eval(`String(document.documentElement.scrollWidth <= 320)`),
		"the schedules fit 320 px without scrolling sideways")
	b.page("schedules-active-320px")
	b.do("wide again", chromedp.EmulateViewport(1280, 900))
	b.do("open the overview", chromedp.Click(chromedp.CSS(`nav a[href="/"]`)), chromedp.WaitVisible(chromedp.ID("stat-next")))
	assert.Contains(t, b.text("#stats"), "Friday lab end", "the next scheduled time on the overview")
	b.page("overview-scheduled")
	b.do("back to the schedules", chromedp.Click(chromedp.CSS(`#stats a[href="/schedules#schedule-1"]`)),
		chromedp.WaitVisible(chromedp.ID("schedule-1")))

	b.press("Cancel the schedule Friday lab end")
	b.do("open the confirmation", chromedp.WaitVisible(chromedp.CSS(`form[action="/schedules/1/cancel"]`)))
	b.page("schedule-cancel")
	b.press("Cancel the schedule")
	b.do("cancel", chromedp.WaitVisible(chromedp.CSS(".alert-ok")))
	assert.Equal(t, "The schedule “Friday lab end” was cancelled: none of its times will run.", b.text(".alert-ok"))
	b.until("the cancel announced", `document.getElementById("announce").textContent.indexOf("was cancelled") > 0`)
	assert.Equal(t, "Cancelled", b.text("#schedule-1 .pill"))
	assert.Equal(t, "0", b.eval(`String(document.querySelectorAll("#schedule-1 ol.times li").length)`))
	b.page("schedules-cancelled")
}
