package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/tfstate"
)

// progressEvery bounds how often apply progress rewrites an operation's
// record; subscribers see every step.
const progressEvery = 500 * time.Millisecond

// opsTracker keeps the operation record of each request up to date in the
// store, and tells subscribers of each change. Records of this process
// carry its tfstate.Owner, so that a later process can prove them orphaned
// (see Recover).
type opsTracker struct {
	store *audit.OpStore
	env   string
	owner json.RawMessage
	now   func() time.Time

	mu sync.Mutex
	// live holds the operations of this process not yet final.
	live map[int64]*liveOp
	// current are the operations of the running apply, for progress.
	current []int64
}

type liveOp struct {
	op      audit.Op
	written time.Time // last write of a progress step
	subs    []chan audit.Op
}

func newOpsTracker(store *audit.OpStore, env string, now func() time.Time) *opsTracker {
	owner, _ := json.Marshal(tfstate.Self()) // a struct of strings and numbers
	return &opsTracker{store: store, env: env, owner: owner, now: now, live: map[int64]*liveOp{}}
}

// create records a new queued operation.
func (t *opsTracker) create(ctx context.Context, typ audit.Action, actor string, params map[string]any) (audit.Op, error) {
	op, err := t.store.Create(context.WithoutCancel(ctx), audit.Op{
		Action: typ, Environment: t.env, CreatedBy: actor, Params: params, Owner: t.owner,
	})
	if err != nil {
		return audit.Op{}, fmt.Errorf("launcher: %w", err)
	}
	t.mu.Lock()
	t.live[op.ID] = &liveOp{op: op}
	t.mu.Unlock()
	return op, nil
}

// update applies edit to the live operation id, writes the record when
// force is set or a progress step is due, and then tells the subscribers,
// so that one who sees a final state finds it in the store too. A final
// status ends the subscriptions.
func (t *opsTracker) update(ctx context.Context, id int64, force bool, edit func(*audit.Op)) {
	t.mu.Lock()
	lo, ok := t.live[id]
	if !ok {
		t.mu.Unlock()
		return
	}
	edit(&lo.op)
	now := t.now()
	final := !lo.op.Status.Live()
	write := force || final || now.Sub(lo.written) >= progressEvery
	if write {
		lo.written = now
		lo.op.UpdatedAt = now.UTC()
	}
	op := lo.op
	t.mu.Unlock()
	if write {
		// The record is the truth a restarted process reads; failing to
		// write it must not fail the launch it describes.
		_ = t.store.Update(context.WithoutCancel(ctx), op)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if final {
		// Only now, with the final record stored: a Watch in between
		// still finds the operation live and gets the final state below.
		delete(t.live, id)
	}
	for _, c := range lo.subs {
		if final {
			// The buffer holds one value: replace a missed step with the
			// final state, then close.
			select {
			case <-c:
			default:
			}
			c <- op
			close(c)
			continue
		}
		select {
		case c <- op:
		default: // a slow subscriber misses steps, never the last one
		}
	}
	if final {
		lo.subs = nil
	}
}

// start marks ids running.
func (t *opsTracker) start(ctx context.Context, ids []int64) {
	now := t.now().UTC()
	t.mu.Lock()
	t.current = ids
	t.mu.Unlock()
	for _, id := range ids {
		t.update(ctx, id, true, func(op *audit.Op) { op.Status, op.StartedAt = audit.StatusRunning, &now })
	}
}

// progress records p for the running operations.
func (t *opsTracker) progress(p Progress) {
	t.mu.Lock()
	ids := t.current
	t.mu.Unlock()
	for _, id := range ids {
		t.update(context.Background(), id, false, func(op *audit.Op) {
			op.ResourcesTotal, op.ResourcesCompleted = p.Planned, p.Done
			op.LaunchID = p.LaunchID
		})
	}
}

// finish records the outcome of ids: succeeded, interrupted when the
// request was cancelled (a shutdown), else failed with err.
func (t *opsTracker) finish(ctx context.Context, ids []int64, launchID string, err error) {
	now := t.now().UTC()
	t.mu.Lock()
	t.current = nil
	t.mu.Unlock()
	for _, id := range ids {
		t.update(ctx, id, true, func(op *audit.Op) {
			op.FinishedAt = &now
			if launchID != "" {
				op.LaunchID = launchID
			}
			switch {
			case err == nil:
				op.Status = audit.StatusSucceeded
				op.ResourcesCompleted = op.ResourcesTotal
			case errors.Is(err, context.Canceled):
				op.Status, op.Error = audit.StatusInterrupted, err.Error()
			default:
				op.Status, op.Error = audit.StatusFailed, err.Error()
			}
		})
	}
}

// subscribe returns a channel that receives the operation's changes and
// is closed after its final state; for an operation that is not live (a
// final one, or another process's), it receives the stored record and is
// closed. Call cancel when done.
func (t *opsTracker) subscribe(ctx context.Context, id int64) (<-chan audit.Op, func(), error) {
	t.mu.Lock()
	if lo, ok := t.live[id]; ok {
		c := make(chan audit.Op, 1)
		c <- lo.op
		lo.subs = append(lo.subs, c)
		t.mu.Unlock()
		return c, func() { t.unsubscribe(id, c) }, nil
	}
	t.mu.Unlock()
	op, err := t.store.Get(ctx, t.env, id)
	if err != nil {
		return nil, func() {}, err
	}
	c := make(chan audit.Op, 1)
	c <- op
	close(c)
	return c, func() {}, nil
}

func (t *opsTracker) unsubscribe(id int64, c chan audit.Op) {
	t.mu.Lock()
	defer t.mu.Unlock()
	lo, ok := t.live[id]
	if !ok {
		return // final: closed by update
	}
	for i, s := range lo.subs {
		if s == c {
			lo.subs = append(lo.subs[:i], lo.subs[i+1:]...)
			close(c)
			return
		}
	}
}

// opIDs lists the operations of reqs.
func opIDs(reqs []Request) []int64 {
	var ids []int64
	for _, r := range reqs {
		if r.op > 0 {
			ids = append(ids, r.op)
		}
	}
	return ids
}

// Operation returns the operation id of the launcher's environment.
func (l *Launcher) Operation(ctx context.Context, id int64) (audit.Op, error) {
	return l.ops.store.Get(ctx, l.environment(), id)
}

// Operations returns the newest limit operations of the launcher's
// environment (all when limit < 1), only those in statuses when given.
func (l *Launcher) Operations(ctx context.Context, limit int, statuses ...audit.OpStatus) ([]audit.Op, error) {
	ops, _, err := l.ops.store.List(ctx, l.environment(), audit.OpQuery{Limit: limit, Statuses: statuses})
	return ops, err
}

// Watch returns a channel of the changes of operation id, closed after
// its final state (at once, with the stored record, for an operation this
// process does not run). Call cancel when no longer reading.
func (l *Launcher) Watch(ctx context.Context, id int64) (changes <-chan audit.Op, cancel func(), err error) {
	return l.ops.subscribe(ctx, id)
}

// Wait returns operation id once it is final, or ctx's error.
func (l *Launcher) Wait(ctx context.Context, id int64) (audit.Op, error) {
	c, cancel, err := l.Watch(ctx, id)
	if err != nil {
		return audit.Op{}, err
	}
	defer cancel()
	var last audit.Op
	for {
		select {
		case op, ok := <-c:
			if !ok {
				if last.Status.Live() {
					// Another process runs it: ask the store.
					return l.waitStored(ctx, id)
				}
				return last, nil
			}
			last = op
		case <-ctx.Done():
			return last, ctx.Err()
		}
	}
}

// waitStored polls the store for an operation another process runs.
func (l *Launcher) waitStored(ctx context.Context, id int64) (audit.Op, error) {
	for {
		op, err := l.Operation(ctx, id)
		if err != nil || !op.Status.Live() {
			return op, err
		}
		select {
		case <-ctx.Done():
			return op, ctx.Err()
		case <-time.After(progressEvery):
		}
	}
}
