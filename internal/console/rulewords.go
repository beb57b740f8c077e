package console

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// customRule is what RuleWords says of a rule it cannot put in words.
const customRule = "On a custom rule: see the RRULE and the next times"

// RuleWords says when a schedule fires, in words: rule is its RRULE as
// package schedule normalizes it (upper case, no "RRULE:"; "" for a
// schedule that fires once), start its first time in its zone, from
// which come the parts the rule leaves out (as RFC 5545 says: a weekly
// rule without BYDAY fires on start's weekday, at start's time). Times
// are wall-clock times of start's zone, which the words do not name.
// The parts few schedules use (BYSETPOS, BYYEARDAY, BYWEEKNO, a
// BYMONTHDAY together with a BYDAY) give customRule; the page shows the
// RRULE and the next times next to the words in any case.
func RuleWords(rule string, start time.Time) string {
	if rule == "" {
		return "Once, on " + start.Format("Mon 2 Jan 2006") + " at " + clock(start.Hour(), start.Minute(), start.Second())
	}
	r, ok := parseParts(rule, start)
	if !ok {
		return customRule
	}
	days, ok := r.days()
	if !ok {
		return customRule
	}
	return days + r.clocks() + r.filters() + r.end()
}

// ruleParts are the parts of an RRULE that RuleWords reads.
type ruleParts struct {
	start                        time.Time
	freq                         string
	interval                     int
	hours, minutes, seconds      []int
	monthDays, months            []int
	weekdays                     []weekday
	count                        int
	until                        string
	hasHours, hasMonths, hasDays bool // BYHOUR, BYMONTH and BYDAY given
}

type weekday struct {
	n   int // the nth in the month or year; 0 for every one
	day time.Weekday
}

var dayCodes = map[string]time.Weekday{"MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday, "SU": time.Sunday}

func parseParts(rule string, start time.Time) (ruleParts, bool) {
	r := ruleParts{start: start, interval: 1, hours: []int{start.Hour()}, minutes: []int{start.Minute()},
		seconds: []int{start.Second()}, months: []int{int(start.Month())}}
	for part := range strings.SplitSeq(rule, ";") {
		name, value, _ := strings.Cut(part, "=")
		var err error
		switch name {
		case "FREQ":
			r.freq = value
		case "INTERVAL":
			r.interval, err = strconv.Atoi(value)
		case "COUNT":
			r.count, err = strconv.Atoi(value)
		case "UNTIL":
			r.until = value
		case "BYHOUR":
			r.hours, err = numbers(value)
			r.hasHours = true
		case "BYMINUTE":
			r.minutes, err = numbers(value)
		case "BYSECOND":
			r.seconds, err = numbers(value)
		case "BYMONTHDAY":
			r.monthDays, err = numbers(value)
		case "BYMONTH":
			r.months, err = numbers(value)
			r.hasMonths = true
		case "BYDAY":
			r.weekdays, err = weekdays(value)
			r.hasDays = true
		case "WKST": // changes nothing a sentence says
		default:
			return r, false
		}
		if err != nil {
			return r, false
		}
	}
	return r, r.freq != ""
}

func numbers(list string) ([]int, error) {
	var out []int
	for v := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "+"))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func weekdays(list string) ([]weekday, error) {
	var out []weekday
	for v := range strings.SplitSeq(list, ",") {
		if len(v) < 2 {
			return nil, fmt.Errorf("day %q", v)
		}
		day, ok := dayCodes[v[len(v)-2:]]
		if !ok {
			return nil, fmt.Errorf("day %q", v)
		}
		n := 0
		if num := v[:len(v)-2]; num != "" {
			var err error
			if n, err = strconv.Atoi(strings.TrimPrefix(num, "+")); err != nil {
				return nil, err
			}
		}
		out = append(out, weekday{n, day})
	}
	// Monday first, as a week reads.
	slices.SortStableFunc(out, func(a, b weekday) int { return (int(a.day)+6)%7 - (int(b.day)+6)%7 })
	return out, nil
}

// every is "Every" with the interval: "Every week", "Every 2 weeks".
func (r ruleParts) every(unit string) string {
	if r.interval == 1 {
		return "Every " + unit
	}
	return fmt.Sprintf("Every %d %ss", r.interval, unit)
}

// days says on which days the rule fires; false when it cannot.
func (r ruleParts) days() (string, bool) {
	ordinals := slices.ContainsFunc(r.weekdays, func(w weekday) bool { return w.n != 0 })
	if r.hasDays && len(r.monthDays) > 0 {
		return "", false // "Friday the 13th": rare, and easy to misread
	}
	switch r.freq {
	case "HOURLY", "DAILY", "WEEKLY":
		if ordinals || len(r.monthDays) > 0 {
			return "", false
		}
	}
	switch r.freq {
	case "HOURLY":
		return r.every("hour"), true // the days follow the minutes (filters)
	case "DAILY":
		if !r.hasDays {
			return r.every("day"), true
		}
		if r.interval == 1 {
			return "Every " + dayList(r.weekdays, true), true
		}
		return r.every("day") + ", only on " + dayList(r.weekdays, false), true
	case "WEEKLY":
		ws := r.weekdays
		if !r.hasDays {
			ws = []weekday{{0, r.start.Weekday()}}
		}
		if r.interval == 1 {
			return "Every " + dayList(ws, true), true
		}
		return r.every("week") + " on " + dayList(ws, false), true
	case "MONTHLY":
		return r.inMonth("month", "of every month", ordinals)
	case "YEARLY":
		if ordinals && !r.hasMonths {
			return "", false // the nth weekday of the year
		}
		return r.inMonth("year", "of "+join(r.monthNames()), ordinals)
	}
	return "", false
}

// inMonth says the days of a monthly or yearly rule: "On the last Friday
// of every month", "Every year on day 1 of March", "Every Monday".
func (r ruleParts) inMonth(unit, of string, ordinals bool) (string, bool) {
	lead := "On "
	if r.freq == "YEARLY" || r.interval > 1 {
		lead = r.every(unit) + " on "
		if r.freq == "MONTHLY" {
			of = "of the month"
		}
	}
	switch {
	case ordinals:
		if slices.ContainsFunc(r.weekdays, func(w weekday) bool { return w.n == 0 }) {
			return "", false
		}
		var parts []string
		for _, w := range r.weekdays {
			parts = append(parts, "the "+ordinal(w.n)+" "+w.day.String())
		}
		return lead + join(parts) + " " + of, true
	case r.hasDays:
		s := "Every " + dayList(r.weekdays, true)
		if r.freq == "YEARLY" {
			s += " in " + join(r.monthNames())
		}
		if r.interval > 1 {
			s += ", " + strings.ToLower(r.every(unit))
		}
		return s, true
	}
	ds := r.monthDays
	if len(ds) == 0 {
		ds = []int{r.start.Day()}
	}
	if r.freq == "YEARLY" && len(ds) == 1 && ds[0] > 0 && len(r.months) == 1 {
		return fmt.Sprintf("%s%d %s", lead, ds[0], time.Month(r.months[0])), true
	}
	var parts []string
	for _, d := range slices.Concat(positive(ds), negative(ds)) { // "day 1 and the last day"
		parts = append(parts, monthDay(d))
	}
	return lead + join(parts) + " " + of, true
}

func (r ruleParts) monthNames() []string {
	var ms []string
	for _, m := range r.months {
		ms = append(ms, time.Month(m).String())
	}
	return ms
}

// clocks says at what times of day: " at 17:30", " at :00 and :30" for an
// hourly rule.
func (r ruleParts) clocks() string {
	if r.freq == "HOURLY" {
		var ms []string
		for _, m := range r.minutes {
			for _, s := range r.seconds {
				ms = append(ms, ":"+strings.TrimPrefix(clock(0, m, s), "00:"))
			}
		}
		out := " at " + join(ms)
		if r.hasHours {
			var hs []string
			for _, h := range r.hours {
				hs = append(hs, fmt.Sprintf("%02d", h))
			}
			out += ", in the hours " + join(hs)
		}
		return out
	}
	var ts []string
	for _, h := range r.hours {
		for _, m := range r.minutes {
			for _, s := range r.seconds {
				ts = append(ts, clock(h, m, s))
			}
		}
	}
	if len(ts) > 6 {
		return fmt.Sprintf(" at %d times a day", len(ts))
	}
	return " at " + join(ts)
}

// filters names the days of an hourly rule, and the months of a rule
// whose days do not already name them.
func (r ruleParts) filters() string {
	out := ""
	if r.freq == "HOURLY" && r.hasDays {
		out += ", only on " + dayList(r.weekdays, false)
	}
	if r.hasMonths && r.freq != "YEARLY" {
		out += ", in " + join(r.monthNames())
	}
	return out
}

// end says when the rule stops, "" when it does not.
func (r ruleParts) end() string {
	switch {
	case r.count == 1:
		return ", once"
	case r.count > 1:
		return fmt.Sprintf(", %d times", r.count)
	case r.until != "":
		loc := r.start.Location()
		if strings.HasSuffix(r.until, "Z") {
			loc = time.UTC // an instant; without Z, a wall time of the rule's zone
		}
		for _, layout := range []string{"20060102T150405Z", "20060102T150405", "20060102"} {
			if u, err := time.ParseInLocation(layout, r.until, loc); err == nil {
				return ", until " + u.In(r.start.Location()).Format("Mon 2 Jan 2006 15:04 MST")
			}
		}
		return ", until " + r.until
	}
	return ""
}

// dayList names weekdays after "Every" ("Friday", "Monday and Friday",
// "weekday (Monday to Friday)", "day"), or after "on" (every false).
func dayList(ws []weekday, every bool) string {
	var names []string
	for _, w := range ws {
		names = append(names, w.day.String())
	}
	switch strings.Join(names, ",") {
	case "Monday,Tuesday,Wednesday,Thursday,Friday":
		if every {
			return "weekday (Monday to Friday)"
		}
		return "weekdays (Monday to Friday)"
	case "Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday":
		if every {
			return "day"
		}
		return "any day"
	}
	return join(names)
}

// positive and negative split month days into those counted from the
// start of the month and those counted from its end (-1 the last), each
// in calendar order.
func positive(ns []int) []int {
	return slices.DeleteFunc(slices.Clone(ns), func(n int) bool { return n < 0 })
}

func negative(ns []int) []int {
	return slices.DeleteFunc(slices.Clone(ns), func(n int) bool { return n > 0 })
}

func monthDay(d int) string {
	if d < 0 {
		return "the " + ordinal(d) + " day"
	}
	return "day " + strconv.Itoa(d)
}

// ordinal is "first", "second", …, "last", "second to last".
func ordinal(n int) string {
	words := []string{"first", "second", "third", "fourth", "fifth"}
	switch {
	case n == -1:
		return "last"
	case n < -1:
		return ordinal(-n) + " to last"
	case n <= len(words):
		return words[n-1]
	case n%10 == 1 && n%100 != 11:
		return strconv.Itoa(n) + "st"
	case n%10 == 2 && n%100 != 12:
		return strconv.Itoa(n) + "nd"
	case n%10 == 3 && n%100 != 13:
		return strconv.Itoa(n) + "rd"
	}
	return strconv.Itoa(n) + "th"
}

// clock is a time of day, with seconds only when there are some.
func clock(h, m, s int) string {
	if s != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}

// join lists words: "a", "a and b", "a, b and c".
func join(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
