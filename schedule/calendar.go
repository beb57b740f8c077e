package schedule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lablink-go/lablink/audit"
)

// Options are the optional settings of a Calendar. The zero value (or a
// nil *Options) uses the system clock.
type Options struct {
	// Now returns the current time; it decides what "in the future" means
	// and stamps records. A Scheduler made from the Calendar uses it too.
	// Default time.Now.
	Now func() time.Time
}

// Calendar keeps the schedules of one environment in an audit.Store, so
// that they survive restarts and every allocator sharing the store sees
// them. It creates, reads, lists and cancels schedules; a Scheduler runs
// them. The HTTP routes and the CLI use a Calendar; the CLI needs no
// Scheduler (a running allocator picks up what it writes within its poll
// interval). A Calendar is safe for concurrent use, also by several
// processes sharing the store; it holds no resources and needs no Close.
type Calendar struct {
	store audit.Store
	keys  keys
	now   func() time.Time

	update sync.Mutex // serializes this process's read-modify-writes of a record

	mu       sync.Mutex
	known    map[int64]bool // ids whose name claim is theirs: committed schedules
	cursors  map[int64]*cursor
	watchers []chan struct{}
}

// NewCalendar returns the Calendar of environment env in store. env is
// one key segment (upstream's ENVIRONMENT, already normalized by the
// caller); opts may be nil. Nothing is read here. Each write to store is
// bounded and retried as an audit Trail's (audit.BoundedWrites, with the
// default audit.Options).
func NewCalendar(store audit.Store, env string, opts *Options) (*Calendar, error) {
	if env == "" || env == "." || env == ".." || strings.ContainsAny(env, "/\\") ||
		strings.ContainsFunc(env, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, fmt.Errorf("schedule: environment %q is not one key segment", env)
	}
	// The Scheduler records an occurrence on a context that Close does not
	// cancel; bounded, its writes cannot hold Close (see also get).
	c := &Calendar{store: audit.BoundedWrites(store, nil), keys: keys{root: env + "/client/schedules/"}, now: time.Now, known: map[int64]bool{}, cursors: map[int64]*cursor{}}
	if opts != nil && opts.Now != nil {
		c.now = opts.Now
	}
	return c, nil
}

// Create validates req at the current time and stores the schedule it
// asks for, with the next free id and status scheduled. Invalid requests
// return every problem joined (*FieldError); a name already taken returns
// ErrDuplicateName. The schedule exists once its name is claimed: the
// record is created first (claiming its id), then the name (claiming the
// name with the store's conditional create), so two allocators creating
// one name at once get one schedule and one ErrDuplicateName. A record
// whose name claim failed or never came is not a schedule (Get and List
// skip it). Cost: a Get of the name, a List of the record keys, two
// creates.
func (c *Calendar) Create(ctx context.Context, req Request) (Schedule, error) {
	now := c.now().UTC()
	s, err := req.schedule(now)
	if err != nil {
		return Schedule{}, err
	}
	if _, err := c.get(ctx, c.keys.name(s.Name)); err == nil {
		return Schedule{}, fmt.Errorf("%w: %q", ErrDuplicateName, s.Name)
	} else if !errors.Is(err, audit.ErrNotFound) {
		return Schedule{}, fmt.Errorf("schedule: create: %w", err)
	}
	s.Status, s.CreatedAt, s.UpdatedAt = StatusScheduled, now, now
	nonce, err := newNonce()
	if err != nil {
		return Schedule{}, err
	}
	if s.ID, err = c.createRecord(ctx, s, nonce); err != nil {
		return Schedule{}, err
	}
	claim := nameClaim{ID: s.ID, Name: s.Name, Nonce: nonce, CreatedAt: now}
	err = c.create(ctx, c.keys.name(s.Name), claim)
	if errors.Is(err, audit.ErrExists) {
		dup := fmt.Errorf("%w: %q", ErrDuplicateName, s.Name)
		if err := c.discard(ctx, s, nonce); err != nil {
			return Schedule{}, fmt.Errorf("%w (marking record %d discarded: %v)", dup, s.ID, err)
		}
		return Schedule{}, dup
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule: create: claim name: %w", err)
	}
	c.mu.Lock()
	c.known[s.ID] = true
	c.mu.Unlock()
	c.notify()
	c.fillNext(&s, now)
	return s, nil
}

// maxIDTries bounds the search for a free id when other processes take
// the same ones at the same time.
const maxIDTries = 64

// createRecord stores s under the next free id and returns the id.
func (c *Calendar) createRecord(ctx context.Context, s Schedule, nonce string) (int64, error) {
	ids, err := c.ids(ctx)
	if err != nil {
		return 0, err
	}
	next := int64(1)
	if len(ids) > 0 {
		next = ids[len(ids)-1] + 1
	}
	for range maxIDTries {
		s.ID = next
		body, err := encodeRecord(s, nonce, "")
		if err != nil {
			return 0, err
		}
		err = c.store.Create(ctx, c.keys.record(next), body, audit.ContentTypeJSON)
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, audit.ErrExists) {
			return 0, fmt.Errorf("schedule: create: %w", err)
		}
		next++
	}
	return 0, fmt.Errorf("schedule: create: no free id after %d tries", maxIDTries)
}

// discard marks the record of a create that lost its name, so that no
// reader needs to look for its claim. Its error is only worth a mention:
// readers find the claim naming another id either way.
func (c *Calendar) discard(ctx context.Context, s Schedule, nonce string) error {
	body, err := encodeRecord(s, nonce, "schedule_name taken")
	if err == nil {
		err = c.store.Put(ctx, c.keys.record(s.ID), body, audit.ContentTypeJSON)
	}
	return err
}

// Get returns schedule id, with NextOccurrence computed now, or an error
// matching ErrNotFound. Cost: one Get (two the first time this Calendar
// reads the id).
func (c *Calendar) Get(ctx context.Context, id int64) (Schedule, error) {
	s, _, err := c.load(ctx, id)
	if err != nil {
		return Schedule{}, err
	}
	c.fillNext(&s, c.now())
	return s, nil
}

// List returns the environment's schedules ordered by time, then id;
// only those in status when status is not "". Cost: one List of the
// record keys and one Get per schedule (its name claim too, the first
// time this Calendar reads it).
func (c *Calendar) List(ctx context.Context, status Status) ([]Schedule, error) {
	if _, err := ParseStatus(string(status)); err != nil {
		return nil, err
	}
	ids, err := c.ids(ctx)
	if err != nil {
		return nil, err
	}
	now := c.now()
	out := []Schedule{}
	for _, id := range ids {
		s, _, err := c.load(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if status == "" || s.Status == status {
			c.fillNext(&s, now)
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b Schedule) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// Cancel cancels schedule id on behalf of by: none of its times from now
// on runs, on any allocator sharing the store. An operation already
// handed to the runner goes on. A schedule already cancelled or
// completed returns ErrNotCancellable (upstream's 400). The cancel is a
// conditional create of a marker that every allocator reads before it
// runs an occurrence, so it holds even when it races with an allocator
// updating the record; only an occurrence being claimed at that very
// moment may still run.
func (c *Calendar) Cancel(ctx context.Context, id int64, by string) (Schedule, error) {
	s, _, err := c.load(ctx, id)
	if err != nil {
		return Schedule{}, err
	}
	if s.Status == StatusCancelled || s.Status == StatusCompleted {
		return Schedule{}, fmt.Errorf("%w: schedule %d is %s", ErrNotCancellable, id, s.Status)
	}
	nonce, err := newNonce()
	if err != nil {
		return Schedule{}, err
	}
	mark := cancelMark{By: by, At: c.now().UTC(), Nonce: nonce}
	err = c.create(ctx, c.keys.cancel(id), mark)
	if err != nil && !errors.Is(err, audit.ErrExists) { // exists: cancelled by someone else just now
		return Schedule{}, fmt.Errorf("schedule: cancel %d: %w", id, err)
	}
	s, err = c.modify(ctx, id, func(s *Schedule) { cancelled(s, mark) })
	if err != nil {
		return Schedule{}, err
	}
	c.notify()
	return s, nil
}

func cancelled(s *Schedule, m cancelMark) {
	at := m.At
	s.Status, s.CancelledBy, s.CancelledAt, s.NextOccurrence = StatusCancelled, m.By, &at, nil
}

// History returns the occurrence records of schedule id, newest first,
// at most limit of them (all when limit < 1). Cost: one List and one Get
// per record returned.
func (c *Calendar) History(ctx context.Context, id int64, limit int) ([]Occurrence, error) {
	if _, _, err := c.load(ctx, id); err != nil {
		return nil, err
	}
	keys, err := c.store.List(ctx, c.keys.occurrences(id), audit.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("schedule: history of %d: %w", id, err)
	}
	out := []Occurrence{}
	for i := len(keys) - 1; i >= 0 && (limit < 1 || len(out) < limit); i-- {
		o, err := c.occurrence(ctx, keys[i])
		if err != nil {
			return nil, err
		}
		out = append(out, o.Occurrence)
	}
	return out, nil
}

// fillNext sets s.NextOccurrence to the rule's first time after now, for
// a schedule that can still fire.
func (c *Calendar) fillNext(s *Schedule, now time.Time) {
	s.NextOccurrence = nil
	if s.Status.final() {
		return
	}
	if t, ok := c.nextTime(*s, now); ok {
		t = t.UTC()
		s.NextOccurrence = &t
	}
}

// nextTime returns s's first time after now. Rules are walked from their
// start (rrule-go has no other way), which costs 16 ms for an hourly rule
// a year old, so each schedule keeps a cursor that later reads move on
// from; a read earlier than the last one starts over.
func (c *Calendar) nextTime(s Schedule, now time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.cursors[s.ID]
	if !ok || now.Before(cur.at) {
		r, err := s.Rule()
		if err != nil {
			return time.Time{}, false
		}
		cur = &cursor{next: r.cursor()}
		cur.peek, cur.more = cur.next()
		c.cursors[s.ID] = cur
	}
	cur.at = now
	for cur.more && !cur.peek.After(now) {
		cur.peek, cur.more = cur.next()
	}
	return cur.peek, cur.more
}

// cursor is a schedule's place in its rule: peek is its first time after
// at, when more.
type cursor struct {
	next func() (time.Time, bool)
	peek time.Time
	more bool
	at   time.Time
}

// notify wakes the Schedulers made from c, so that they see a created or
// cancelled schedule before their next poll.
func (c *Calendar) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.watchers {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

func (c *Calendar) watch() <-chan struct{} {
	w := make(chan struct{}, 1)
	c.mu.Lock()
	c.watchers = append(c.watchers, w)
	c.mu.Unlock()
	return w
}
