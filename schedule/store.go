package schedule

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lablink-go/lablink/audit"
)

// keys names the objects of one environment's schedules (see the package
// doc). Ids are zero-padded so that keys sort by id, and occurrence
// times are ISO 8601 basic UTC ("20260306T223000Z"), which sort by time
// and are valid file names everywhere.
type keys struct{ root string }

func (k keys) records() string        { return k.root + "records/" }
func (k keys) record(id int64) string { return fmt.Sprintf("%s%012d.json", k.records(), id) }
func (k keys) cancel(id int64) string { return fmt.Sprintf("%scancelled/%012d.json", k.root, id) }
func (k keys) occurrences(id int64) string {
	return fmt.Sprintf("%soccurrences/%012d/", k.root, id)
}

func (k keys) occurrence(id int64, t time.Time) string {
	return k.occurrences(id) + t.UTC().Format(occurrenceLayout) + ".json"
}

// name hashes the schedule name, which may hold any character.
func (k keys) name(name string) string {
	sum := sha256.Sum256([]byte(name))
	return k.root + "names/" + hex.EncodeToString(sum[:]) + ".json"
}

const occurrenceLayout = "20060102T150405Z"

// occurrenceTime returns the time an occurrence key names.
func occurrenceTime(key string) (time.Time, bool) {
	base := key[strings.LastIndexByte(key, '/')+1:]
	t, err := time.Parse(occurrenceLayout, strings.TrimSuffix(base, ".json"))
	return t, err == nil
}

// nameClaim is the object that makes a name taken, and its schedule real.
type nameClaim struct {
	ID        int64     `json:"schedule_id"`
	Name      string    `json:"schedule_name"`
	Nonce     string    `json:"nonce"`
	CreatedAt time.Time `json:"created_at"`
}

// cancelMark is the object that cancels a schedule; it is never removed.
type cancelMark struct {
	By    string    `json:"cancelled_by"`
	At    time.Time `json:"cancelled_at"`
	Nonce string    `json:"nonce"`
}

// occRecord is an Occurrence as stored: the nonce makes two allocators'
// claims of one occurrence differ, so exactly one create succeeds.
type occRecord struct {
	Occurrence
	Nonce string `json:"nonce"`
}

func newNonce() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("schedule: nonce: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func encode(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("schedule: encode: %w", err)
	}
	return b, nil
}

// encodeRecord returns schedule s's record as stored: without
// NextOccurrence, which readers compute, and with its nonce; discarded,
// when not "", marks the record of a create that lost its name.
func encodeRecord(s Schedule, nonce, discarded string) ([]byte, error) {
	w := s.wire()
	w.NextOccurrence, w.Nonce, w.Discarded = nil, nonce, discarded
	return encode(w)
}

// create and put store v as JSON under key.
func (c *Calendar) create(ctx context.Context, key string, v any) error {
	b, err := encode(v)
	if err != nil {
		return err
	}
	return c.store.Create(ctx, key, b, audit.ContentTypeJSON)
}

func (c *Calendar) put(ctx context.Context, key string, v any) error {
	b, err := encode(v)
	if err != nil {
		return err
	}
	return c.store.Put(ctx, key, b, audit.ContentTypeJSON)
}

// putRecord rewrites schedule s's record.
func (c *Calendar) putRecord(ctx context.Context, s Schedule, nonce string) error {
	body, err := encodeRecord(s, nonce, "")
	if err == nil {
		err = c.store.Put(ctx, c.keys.record(s.ID), body, audit.ContentTypeJSON)
	}
	if err != nil {
		return fmt.Errorf("schedule: update %d: %w", s.ID, err)
	}
	return nil
}

// readTimeout bounds each Get, as audit.BoundedWrites bounds each write.
const readTimeout = audit.DefaultWriteTimeout

// get reads key within readTimeout. The Scheduler records an occurrence
// on a context that Close does not cancel (so that a claimed occurrence's
// records outlive it), and rewriting a record reads it first: bounded,
// a store that stops answering cannot hold Close for ever.
func (c *Calendar) get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	return c.store.Get(ctx, key)
}

// pendingFor is how long a record without its name claim may be a create
// still in progress (its two writes take milliseconds); after that it is
// an abandoned create, not a schedule.
const pendingFor = time.Minute

// errPending reports a record whose name claim may still come, and
// errNoRecord an id without a record.
var (
	errPending  = fmt.Errorf("%w (create in progress)", ErrNotFound)
	errNoRecord = fmt.Errorf("%w (no record)", ErrNotFound)
)

// load reads schedule id and the nonce of its record. It returns an error
// matching ErrNotFound for no record, a discarded one, or one whose name
// belongs to another id; errPending when the claim may still come.
func (c *Calendar) load(ctx context.Context, id int64) (Schedule, string, error) {
	body, err := c.get(ctx, c.keys.record(id))
	if errors.Is(err, audit.ErrNotFound) {
		return Schedule{}, "", fmt.Errorf("%w: %d", errNoRecord, id)
	}
	if err != nil {
		return Schedule{}, "", fmt.Errorf("schedule: read %d: %w", id, err)
	}
	var w wire
	if err := json.Unmarshal(body, &w); err != nil {
		return Schedule{}, "", fmt.Errorf("schedule: read %d: %w", id, err)
	}
	if w.Discarded != "" || w.ID != id {
		return Schedule{}, "", fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err := c.committed(ctx, w); err != nil {
		return Schedule{}, "", err
	}
	return w.schedule(), w.Nonce, nil
}

// committed checks, once per id, that the record's name claim is its own.
func (c *Calendar) committed(ctx context.Context, w wire) error {
	c.mu.Lock()
	known := c.known[w.ID]
	c.mu.Unlock()
	if known {
		return nil
	}
	body, err := c.get(ctx, c.keys.name(w.Name))
	if errors.Is(err, audit.ErrNotFound) {
		if c.now().Sub(w.CreatedAt) < pendingFor {
			return fmt.Errorf("%w: %d", errPending, w.ID)
		}
		return fmt.Errorf("%w: %d (its create did not finish)", ErrNotFound, w.ID)
	}
	if err != nil {
		return fmt.Errorf("schedule: read %d: name: %w", w.ID, err)
	}
	var claim nameClaim
	if err := json.Unmarshal(body, &claim); err != nil {
		return fmt.Errorf("schedule: read %d: name: %w", w.ID, err)
	}
	if claim.ID != w.ID || claim.Nonce != w.Nonce {
		return fmt.Errorf("%w: %d (its name belongs to schedule %d)", ErrNotFound, w.ID, claim.ID)
	}
	c.mu.Lock()
	c.known[w.ID] = true
	c.mu.Unlock()
	return nil
}

// ids lists the record ids of the environment, ascending.
func (c *Calendar) ids(ctx context.Context) ([]int64, error) {
	keys, err := c.store.List(ctx, c.keys.records(), audit.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("schedule: list: %w", err)
	}
	var ids []int64
	for _, k := range keys {
		name, ok := strings.CutSuffix(strings.TrimPrefix(k, c.keys.records()), ".json")
		if !ok {
			continue
		}
		if id, err := strconv.ParseInt(name, 10, 64); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// modify rewrites schedule id's record with edit applied, and returns it.
// A cancel that lands while it writes is kept: after the write it reads
// the cancel marker and, when there is one the record does not show,
// writes the record again cancelled. The cancel either sees this write
// (its own rewrite follows it) or its marker is seen here.
func (c *Calendar) modify(ctx context.Context, id int64, edit func(*Schedule)) (Schedule, error) {
	c.update.Lock()
	defer c.update.Unlock()
	s, nonce, err := c.load(ctx, id)
	if err != nil {
		return Schedule{}, err
	}
	edit(&s)
	s.UpdatedAt = c.now().UTC()
	if err := c.putRecord(ctx, s, nonce); err != nil {
		return Schedule{}, err
	}
	if s.Status == StatusCancelled {
		return s, nil
	}
	mark, ok, err := c.cancelled(ctx, id)
	if err != nil || !ok {
		return s, err
	}
	cancelled(&s, mark)
	if err := c.putRecord(ctx, s, nonce); err != nil {
		return Schedule{}, err
	}
	return s, nil
}

// cancelled reads schedule id's cancel marker.
func (c *Calendar) cancelled(ctx context.Context, id int64) (cancelMark, bool, error) {
	body, err := c.get(ctx, c.keys.cancel(id))
	if errors.Is(err, audit.ErrNotFound) {
		return cancelMark{}, false, nil
	}
	if err != nil {
		return cancelMark{}, false, fmt.Errorf("schedule: read cancel of %d: %w", id, err)
	}
	var m cancelMark
	if err := json.Unmarshal(body, &m); err != nil {
		return cancelMark{}, false, fmt.Errorf("schedule: read cancel of %d: %w", id, err)
	}
	return m, true, nil
}

// occurrence reads the occurrence record at key.
func (c *Calendar) occurrence(ctx context.Context, key string) (occRecord, error) {
	body, err := c.get(ctx, key)
	if err != nil {
		return occRecord{}, fmt.Errorf("schedule: read occurrence: %w", err)
	}
	var o occRecord
	if err := json.Unmarshal(body, &o); err != nil {
		return occRecord{}, fmt.Errorf("schedule: read occurrence %s: %w", key, err)
	}
	return o, nil
}

// claim creates o's record; an error matching audit.ErrExists means that
// another claim or record of the occurrence came first.
func (c *Calendar) claim(ctx context.Context, o occRecord) error {
	return c.create(ctx, c.keys.occurrence(o.ScheduleID, o.Time), o)
}

// putOccurrence rewrites o's record; only its claimant (or an allocator
// adopting it after a restart) does.
func (c *Calendar) putOccurrence(ctx context.Context, o occRecord) error {
	if err := c.put(ctx, c.keys.occurrence(o.ScheduleID, o.Time), o); err != nil {
		return fmt.Errorf("schedule: record occurrence: %w", err)
	}
	return nil
}
