package console

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRuleWords(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	start := time.Date(2026, 3, 6, 17, 30, 0, 0, ny) // a Friday
	tests := []struct{ name, rule, want string }{
		{"once", "", "Once, on Fri 6 Mar 2026 at 17:30"},
		{"weekly on start's day", "FREQ=WEEKLY", "Every Friday at 17:30"},
		{"upstream's example", "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=30", "Every Friday at 17:30"},
		{"two days, days in order", "FREQ=WEEKLY;BYDAY=TH,TU;BYHOUR=8;BYMINUTE=45", "Every Tuesday and Thursday at 08:45"},
		{"weekdays", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=18;BYMINUTE=0", "Every weekday (Monday to Friday) at 18:00"},
		{"fortnightly", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE", "Every 2 weeks on Monday and Wednesday at 17:30"},
		{"daily", "FREQ=DAILY;BYHOUR=9,17;BYMINUTE=0", "Every day at 09:00 and 17:00"},
		{"daily on weekdays", "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "Every weekday (Monday to Friday) at 17:30"},
		{"every other day, some days", "FREQ=DAILY;INTERVAL=2;BYDAY=SA,SU", "Every 2 days, only on Saturday and Sunday at 17:30"},
		{"every day of the week", "FREQ=DAILY;BYDAY=SU,MO,TU,WE,TH,FR,SA", "Every day at 17:30"},
		{"hourly", "FREQ=HOURLY;BYMINUTE=0,30", "Every hour at :00 and :30"},
		{"hourly in hours on days", "FREQ=HOURLY;INTERVAL=3;BYMINUTE=15;BYHOUR=9,12,15;BYDAY=MO,FR",
			"Every 3 hours at :15, in the hours 09, 12 and 15, only on Monday and Friday"},
		{"monthly on start's day", "FREQ=MONTHLY", "On day 6 of every month at 17:30"},
		{"monthly on days", "FREQ=MONTHLY;BYMONTHDAY=-1,15,1,-2", "On day 1, day 15, the second to last day and the last day of every month at 17:30"},
		{"last Friday", "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=16;BYMINUTE=0", "On the last Friday of every month at 16:00"},
		{"first and third Monday", "FREQ=MONTHLY;BYDAY=1MO,3MO", "On the first Monday and the third Monday of every month at 17:30"},
		{"every two months", "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=1", "Every 2 months on day 1 of the month at 17:30"},
		{"monthly Mondays", "FREQ=MONTHLY;BYDAY=MO", "Every Monday at 17:30"},
		{"in some months", "FREQ=WEEKLY;BYMONTH=9,10,11,12", "Every Friday at 17:30, in September, October, November and December"},
		{"yearly", "FREQ=YEARLY", "Every year on 6 March at 17:30"},
		{"yearly in months", "FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1", "Every year on day 1 of January and July at 17:30"},
		{"yearly nth weekday of a month", "FREQ=YEARLY;BYMONTH=9;BYDAY=1MO", "Every year on the first Monday of September at 17:30"},
		{"yearly weekdays of a month", "FREQ=YEARLY;BYMONTH=12;BYDAY=FR", "Every Friday in December at 17:30"},
		{"count", "FREQ=WEEKLY;COUNT=10", "Every Friday at 17:30, 10 times"},
		{"until", "FREQ=WEEKLY;UNTIL=20260601T000000Z", "Every Friday at 17:30, until Sun 31 May 2026 20:00 EDT"},
		{"until a wall time", "FREQ=WEEKLY;UNTIL=20260601T000000", "Every Friday at 17:30, until Mon 1 Jun 2026 00:00 EDT"},
		{"seconds", "FREQ=DAILY;BYSECOND=30", "Every day at 17:30:30"},
		{"many times a day", "FREQ=DAILY;BYHOUR=8,9,10,11;BYMINUTE=0,30", "Every day at 8 times a day"},
		{"wkst changes nothing", "FREQ=WEEKLY;WKST=SU", "Every Friday at 17:30"},
		{"setpos", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", customRule},
		{"Friday the 13th", "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", customRule},
		{"nth weekday of the year", "FREQ=YEARLY;BYDAY=20MO", customRule},
		{"weekly with an ordinal", "FREQ=WEEKLY;BYDAY=1MO", customRule},
		{"year day", "FREQ=YEARLY;BYYEARDAY=100", customRule},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, RuleWords(tc.rule, start))
		})
	}
}

func TestOrdinal(t *testing.T) {
	for n, want := range map[int]string{1: "first", 5: "fifth", 11: "11th", 21: "21st", 22: "22nd", 23: "23rd",
		53: "53rd", 12: "12th", -1: "last", -2: "second to last"} {
		assert.Equal(t, want, ordinal(n), "%d", n)
	}
}
