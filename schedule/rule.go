package schedule

import (
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zones resolve on hosts (containers) without a zoneinfo database

	"github.com/teambition/rrule-go"
)

// Rule is when a schedule fires: once at Start, or at every time of an
// RFC 5545 recurrence rule (RRULE) anchored at Start (the rule's DTSTART)
// and evaluated in a time zone, so that
// "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=30" in America/New_York is
// 17:30 local time on both sides of a daylight-saving change. Parts the rule leaves out come from Start's
// local time, as RFC 5545 says: "FREQ=WEEKLY;BYDAY=FR" fires on Fridays
// at Start's hour and minute.
//
// Times follow RFC 5545 §3.3.5 where the local clock is not continuous: a
// local time that happens twice (when clocks go back) is the first of the
// two; one that does not happen (when clocks go forward) is read with the
// offset from before the gap, so 02:30 on the spring-forward day in New
// York is 03:30 EDT. Two rule times that fall on one instant count once.
// Start is always whole seconds (sub-second parts are dropped) and is a
// time of the rule only when the rule matches it (as python-dateutil,
// which upstream uses, and rrule-go do); times before Start never occur.
//
// A Rule is immutable and safe for concurrent use.
type Rule struct {
	start time.Time // whole seconds, in loc
	loc   *time.Location
	text  string       // normalized RRULE, "" for one time
	rr    *rrule.RRule // nil for one time; computes in floating time (see floating)
}

// rruleParts are the RRULE parts a schedule accepts: every part of RFC
// 5545 §3.3.10. BYEASTER (an extension of the library) is not one.
var rruleParts = []string{
	"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR",
	"BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST",
}

// ParseRule returns the Rule of rule (an RRULE value such as
// "FREQ=DAILY;BYHOUR=9", with or without a leading "RRULE:", any case;
// "" for a one-time schedule) starting at start, in zone (an IANA name
// such as "America/New_York"; "" means UTC). Errors are *FieldError
// naming "recurrence_rule" or "time_zone":
//
//   - ErrFormat: not an RRULE (an unknown or repeated part, a bad value,
//     COUNT together with UNTIL, a value outside RFC 5545's bounds);
//   - ErrUnsupported: more than one line (DTSTART, EXDATE, RDATE: the
//     start comes from start), or FREQ=SECONDLY or MINUTELY (a launch or
//     destroy takes minutes; hourly is the most frequent schedule);
//   - ErrRange: the rule has no time at or after start;
//   - ErrUnknownZone: zone is not in the IANA database ("Local" is
//     refused too: it would mean the host's zone).
func ParseRule(rule string, start time.Time, zone string) (*Rule, error) {
	loc, err := loadZone(zone)
	if err != nil {
		return nil, err
	}
	r := &Rule{start: start.Truncate(time.Second).In(loc), loc: loc}
	rule = strings.TrimSpace(rule)
	if rule == "" {
		return r, nil
	}
	if r.text, err = normalizeRule(rule); err != nil {
		return nil, fieldErr("recurrence_rule", err)
	}
	opt, err := rrule.StrToROptionInLocation(r.text, loc)
	if err != nil {
		return nil, fieldErr("recurrence_rule", fmt.Errorf("%w: %v", ErrFormat, err))
	}
	if opt.Freq == rrule.SECONDLY || opt.Freq == rrule.MINUTELY {
		return nil, fieldErr("recurrence_rule", fmt.Errorf("%w: FREQ=%v; the most frequent schedule is HOURLY", ErrUnsupported, opt.Freq))
	}
	// The library computes in one location; DST-correct wall clocks come
	// from computing in floating time and placing each time in loc.
	opt.Dtstart = floating(r.start)
	if !opt.Until.IsZero() {
		opt.Until = floating(opt.Until.In(loc))
	}
	if r.rr, err = rrule.NewRRule(*opt); err != nil {
		return nil, fieldErr("recurrence_rule", fmt.Errorf("%w: %v", ErrFormat, err))
	}
	if _, ok := r.cursor()(); !ok {
		return nil, fieldErr("recurrence_rule", fmt.Errorf("%w: %q has no time at or after %s", ErrRange, r.text, r.start.Format(time.RFC3339)))
	}
	return r, nil
}

// normalizeRule checks the shape of an RRULE value that the library is
// lenient about, and returns it upper-cased without "RRULE:".
func normalizeRule(rule string) (string, error) {
	if strings.ContainsAny(rule, "\r\n") {
		return "", fmt.Errorf("%w: more than one line; give the RRULE value only (the start is destruction_time)", ErrUnsupported)
	}
	rule = strings.ToUpper(rule)
	rule = strings.TrimPrefix(rule, "RRULE:")
	seen := map[string]bool{}
	for part := range strings.SplitSeq(rule, ";") {
		name, value, ok := strings.Cut(part, "=")
		switch {
		case !ok || value == "":
			return "", fmt.Errorf("%w: part %q is not NAME=VALUE", ErrFormat, part)
		case name == "DTSTART":
			return "", fmt.Errorf("%w: DTSTART in the rule; the start is destruction_time", ErrUnsupported)
		case !slices.Contains(rruleParts, name):
			return "", fmt.Errorf("%w: unknown part %q", ErrFormat, name)
		case seen[name]:
			return "", fmt.Errorf("%w: part %s given twice", ErrFormat, name)
		}
		seen[name] = true
		if name == "COUNT" || name == "INTERVAL" {
			if n, err := strconv.Atoi(value); err != nil || n < 1 {
				return "", fmt.Errorf("%w: %s=%s; want a positive integer", ErrFormat, name, value)
			}
		}
	}
	if !seen["FREQ"] {
		return "", fmt.Errorf("%w: no FREQ", ErrFormat)
	}
	if seen["COUNT"] && seen["UNTIL"] {
		return "", fmt.Errorf("%w: COUNT and UNTIL together", ErrFormat)
	}
	return rule, nil
}

func loadZone(zone string) (*time.Location, error) {
	if zone == "" || zone == "UTC" {
		return time.UTC, nil
	}
	if zone == "Local" {
		return nil, fieldErr("time_zone", fmt.Errorf("%w: %q (the host's zone); name an IANA zone", ErrUnknownZone, zone))
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fieldErr("time_zone", fmt.Errorf("%w: %q", ErrUnknownZone, zone))
	}
	return loc, nil
}

// String returns the rule's RRULE value as normalized by ParseRule, or ""
// for a one-time rule.
func (r *Rule) String() string { return r.text }

// Start returns the rule's start (DTSTART) in its zone.
func (r *Rule) Start() time.Time { return r.start }

// Location returns the rule's time zone.
func (r *Rule) Location() *time.Location { return r.loc }

// Recurring reports whether the rule has an RRULE.
func (r *Rule) Recurring() bool { return r.rr != nil }

// Times returns the rule's times in order, in its zone, from Start on.
// The sequence is endless for a rule without COUNT or UNTIL.
func (r *Rule) Times() iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) {
		next := r.cursor()
		for t, ok := next(); ok && yield(t); t, ok = next() {
		}
	}
}

// Next returns the first time of the rule strictly after t, and false
// when there is none.
func (r *Rule) Next(t time.Time) (time.Time, bool) {
	for u := range r.Times() {
		if u.After(t) {
			return u, true
		}
	}
	return time.Time{}, false
}

// Upcoming returns up to n times of the rule strictly after t.
func (r *Rule) Upcoming(t time.Time, n int) []time.Time {
	var out []time.Time
	for u := range r.Times() {
		if len(out) >= n {
			break
		}
		if u.After(t) {
			out = append(out, u)
		}
	}
	return out
}

// cursor returns a function that yields the rule's times in order, each
// once, none before Start.
func (r *Rule) cursor() func() (time.Time, bool) {
	if r.rr == nil {
		done := false
		return func() (time.Time, bool) {
			if done {
				return time.Time{}, false
			}
			done = true
			return r.start, true
		}
	}
	next := r.rr.Iterator()
	last := r.start.Add(-time.Second)
	return func() (time.Time, bool) {
		for {
			w, ok := next()
			if !ok {
				return time.Time{}, false
			}
			// A time in a DST gap can land on or before the previous
			// one, and a repeated local start before Start itself.
			if t := inZone(w, r.loc); t.After(last) {
				last = t
				return t, true
			}
		}
	}
}

// floating returns t's wall clock as a UTC time, the floating time in
// which the rule is computed.
func floating(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

// inZone places the floating time w in loc per RFC 5545 §3.3.5: of two
// instants with w's wall clock, the first; when none has it (a DST gap),
// w read with the offset from before the gap. Offsets are taken a day and
// a half either side, outside any one transition.
func inZone(w time.Time, loc *time.Location) time.Time {
	_, before := w.Add(-36 * time.Hour).In(loc).Zone()
	_, after := w.Add(36 * time.Hour).In(loc).Zone()
	for _, off := range []int{before, after} {
		if t := w.Add(-time.Duration(off) * time.Second).In(loc); floating(t).Equal(w) {
			return t
		}
	}
	return w.Add(-time.Duration(before) * time.Second).In(loc)
}
