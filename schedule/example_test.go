package schedule_test

import (
	"fmt"
	"time"

	"github.com/lablink-go/lablink/schedule"
)

// The next times of a class that ends on Fridays at 17:30 in New York:
// the same local time before and after the clocks go forward on 8 March.
func ExampleParseRule() {
	created := time.Date(2026, 2, 25, 12, 0, 0, 0, time.UTC)
	r, err := schedule.ParseRule("FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=30", created, "America/New_York")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range r.Upcoming(created, 4) {
		fmt.Println(t.Format("Mon 2006-01-02 15:04 MST"), "=", t.UTC().Format(time.RFC3339))
	}
	// Output:
	// Fri 2026-02-27 17:30 EST = 2026-02-27T22:30:00Z
	// Fri 2026-03-06 17:30 EST = 2026-03-06T22:30:00Z
	// Fri 2026-03-13 17:30 EDT = 2026-03-13T21:30:00Z
	// Fri 2026-03-20 17:30 EDT = 2026-03-20T21:30:00Z
}

// A refused rule names its field, for a 400 answer.
func ExampleParseRule_refused() {
	_, err := schedule.ParseRule("FREQ=MINUTELY", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), "")
	fmt.Println(err)
	// Output:
	// recurrence_rule: not supported: FREQ=MINUTELY; the most frequent schedule is HOURLY
}
