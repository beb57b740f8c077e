package audit

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Keys of the operation store under "{env}/client/".
func opsRoot(env string) string       { return env + "/client/ops/" }
func opRecordsRoot(env string) string { return opsRoot(env) + "records/" }
func opRecordKey(env string, id int64) string {
	return opRecordsRoot(env) + opPath(id) + ".json"
}
func opStatusRoot(env string, s OpStatus) string { return opsRoot(env) + "status/" + string(s) + "/" }
func opStatusKey(env string, s OpStatus, id int64) string {
	return opStatusRoot(env, s) + opPath(id)
}

// opsMarker says that env's records are all in the current layout: those
// of the first layout, "{env}/client/operations/{id:012d}.json", have
// been copied.
func opsMarker(env string) string     { return opsRoot(env) + "layout.json" }
func legacyOpsRoot(env string) string { return env + "/client/operations/" }

// OpQuery selects a page of OpStore.List. The zero value lists every
// operation.
type OpQuery struct {
	// Limit, when positive, is the most operations returned. Default 0:
	// all of them, which reads every record; a page reads about Limit
	// records whatever the store holds.
	Limit int
	// Before, when positive, lists only operations with a smaller id: the
	// next id that List returned with the previous page. Default 0: from
	// the newest.
	Before int64
	// Statuses, when not empty, lists only operations with one of these
	// statuses, found through the status index rather than by reading
	// the records of the others. Default: every status.
	Statuses []OpStatus
}

// List returns a page of env's operations, newest first, and the Before of
// the next page (0 after the last).
func (o *OpStore) List(ctx context.Context, env string, q OpQuery) (ops []Op, next int64, err error) {
	if err := checkSegment("environment", env); err != nil {
		return nil, 0, fmt.Errorf("audit: list operations: %w", err)
	}
	var sources []opSource
	for _, s := range q.Statuses {
		if !s.valid() {
			return nil, 0, fmt.Errorf("audit: list operations: %w: status %q", ErrInvalid, s)
		}
		if !slices.ContainsFunc(sources, func(src opSource) bool { return src.status == s }) {
			sources = append(sources, opSource{root: opStatusRoot(env, s), status: s})
		}
	}
	if len(sources) == 0 {
		sources = []opSource{{root: opRecordsRoot(env), suffix: ".json"}}
	}
	if err := o.ready(ctx, env); err != nil {
		return nil, 0, err
	}
	return o.page(ctx, env, sources, q)
}

// opSource is an index of operations that sorts newest first: the records
// themselves, or the entries of one status.
type opSource struct {
	root   string
	suffix string   // after the leaf: ".json" for records
	status OpStatus // "" for the records
}

// page merges sources, newest first, into a page of at most q.Limit
// operations, checking each against its record: an index entry that a
// crash left behind names a record of another status. Each round lists
// Limit+1 ids of each source; the ids down to the highest of the sources'
// last ids are complete, and the next round starts below it when the page
// needs more.
func (o *OpStore) page(ctx context.Context, env string, sources []opSource, q OpQuery) ([]Op, int64, error) {
	ops := []Op{}
	before := q.Before
	for {
		max := 0
		if q.Limit > 0 {
			max = q.Limit - len(ops) + 1
		}
		var ids []int64
		var horizon int64 // ids at or above it are complete
		for _, src := range sources {
			got, full, err := o.listIDs(ctx, src, before, max)
			if err != nil {
				return nil, 0, err
			}
			ids = append(ids, got...)
			if full {
				horizon = maxID(horizon, got)
			}
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		slices.Reverse(ids)
		for _, id := range ids {
			if id < horizon {
				break
			}
			if q.Limit > 0 && len(ops) == q.Limit {
				return ops, ops[len(ops)-1].ID, nil
			}
			op, err := o.get(ctx, env, id)
			if errors.Is(err, ErrNoOperation) {
				continue // an entry of a Create that failed, or removed by hand
			}
			if err != nil {
				return nil, 0, err
			}
			if len(q.Statuses) == 0 || slices.Contains(q.Statuses, op.Status) {
				ops = append(ops, op)
			}
		}
		switch {
		case horizon == 0:
			return ops, 0, nil // every source listed to its end
		case q.Limit > 0 && len(ops) == q.Limit:
			return ops, ops[len(ops)-1].ID, nil
		}
		before = horizon
	}
}

// maxID returns the larger of h and the last (smallest) of ids, or h when
// ids is empty.
func maxID(h int64, ids []int64) int64 {
	if len(ids) == 0 {
		return h
	}
	return max(h, ids[len(ids)-1])
}

// listIDs lists at most max ids (0: all) of src below before (0: from the
// newest), newest first; full reports that the list stopped at max.
func (o *OpStore) listIDs(ctx context.Context, src opSource, before int64, max int) (ids []int64, full bool, err error) {
	opts := ListOptions{MaxKeys: max}
	if before > 0 {
		opts.StartAfter = opBefore(src.root, before)
	}
	keys, err := o.store.List(ctx, src.root, opts)
	if err != nil {
		return nil, false, fmt.Errorf("audit: list operations: %w", err)
	}
	for _, k := range keys {
		id, ok := parseOpKey(k, src.suffix)
		if !ok {
			return nil, false, fmt.Errorf("audit: list operations: %w: unexpected object %s", ErrInvalid, o.store.Location(k))
		}
		ids = append(ids, id)
	}
	return ids, max > 0 && len(keys) == max, nil
}

// Interrupt marks every live operation of env whose process is gone
// (gone(op) true) as interrupted, and returns them. An allocator calls it
// at start: what it left queued or running when it died did not finish.
// Operations of processes that may still run (another allocator sharing
// the store) are left alone. It reads the queued and running entries of the
// status index and their records, nothing else, and removes the entries
// whose record has moved on (left by a process that stopped between the
// two writes of a status change).
func (o *OpStore) Interrupt(ctx context.Context, env string, gone func(Op) bool) ([]Op, error) {
	if err := checkSegment("environment", env); err != nil {
		return nil, fmt.Errorf("audit: interrupt: %w", err)
	}
	if err := o.ready(ctx, env); err != nil {
		return nil, err
	}
	out := []Op{}
	seen := map[int64]bool{}
	for _, s := range []OpStatus{StatusRunning, StatusQueued} {
		src := opSource{root: opStatusRoot(env, s), status: s}
		ids, _, err := o.listIDs(ctx, src, 0, 0)
		if err != nil {
			return out, err
		}
		for _, id := range ids {
			op, err := o.get(ctx, env, id)
			switch {
			case errors.Is(err, ErrNoOperation):
				continue // maybe a Create under way: its entry stays
			case err != nil:
				return out, err
			case op.Status.rank() > s.rank():
				// Statuses only move forward: the entry is stale. (One
				// ahead of its record is a status change under way.)
				if err := o.store.Delete(ctx, opStatusKey(env, s, id)); err != nil {
					return out, fmt.Errorf("audit: interrupt: %w", err)
				}
			}
			if seen[id] || !op.Status.Live() || !gone(op) {
				continue
			}
			seen[id] = true
			prev := op.Status
			now := o.now().UTC()
			op.Status, op.FinishedAt = StatusInterrupted, &now
			if op.Error == "" {
				op.Error = "the allocator stopped before the operation finished"
			}
			if err := o.update(ctx, op, prev); err != nil {
				return out, err
			}
			out = append(out, op)
		}
	}
	slices.SortFunc(out, func(a, b Op) int { return cmp.Compare(b.ID, a.ID) })
	return out, nil
}

// ready makes sure env's records are in the current layout (see migrate),
// once per environment and OpStore.
func (o *OpStore) ready(ctx context.Context, env string) error {
	return o.layout.ensure(ctx, o.store, env, opsMarker(env), o.migrate)
}

// migrate copies the records of the first layout that the current one does
// not hold, byte for byte, with their status entries, then writes the
// marker (marked says whether it could; see layoutCheck). The old objects
// stay where they are. Processes migrating at once write the same objects,
// which Create accepts; a record that was copied and has changed since is
// left as it is.
func (o *OpStore) migrate(ctx context.Context, env string) (marked bool, err error) {
	keys, err := o.store.List(ctx, legacyOpsRoot(env), ListOptions{})
	if err != nil {
		return false, fmt.Errorf("audit: migrate operations: %w", err)
	}
	have := map[int64]bool{}
	if len(keys) > 0 {
		ids, _, err := o.listIDs(ctx, opSource{root: opRecordsRoot(env), suffix: ".json"}, 0, 0)
		if err != nil {
			return false, err
		}
		for _, id := range ids {
			have[id] = true
		}
	}
	for _, k := range keys {
		name, ok := strings.CutSuffix(strings.TrimPrefix(k, legacyOpsRoot(env)), ".json")
		id, err := strconv.ParseInt(name, 10, 64)
		if !ok || err != nil || id < 1 || have[id] {
			continue
		}
		if err := o.migrateOne(ctx, env, id, k); err != nil {
			return false, fmt.Errorf("audit: migrate operation %d: %w", id, err)
		}
	}
	err = o.store.Create(ctx, opsMarker(env), []byte(`{"operations_layout":2}`+"\n"), ContentTypeJSON)
	return err == nil, nil
}

func (o *OpStore) migrateOne(ctx context.Context, env string, id int64, key string) error {
	body, err := o.store.Get(ctx, key)
	if err != nil {
		return err
	}
	var op Op
	if err := json.Unmarshal(body, &op); err != nil {
		return fmt.Errorf("decode %s: %w", o.store.Location(key), err)
	}
	if op.Status.valid() {
		if err := o.store.Create(ctx, opStatusKey(env, op.Status, id), idBody(id), contentTypeText); err != nil {
			return err
		}
	}
	err = o.store.Create(ctx, opRecordKey(env, id), body, ContentTypeJSON)
	if errors.Is(err, ErrExists) {
		return nil // copied by another process, and changed since
	}
	return err
}
