package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OpType is what an operation does, in upstream's words.
type OpType string

// Operation types: a launch applies the module, a destroy destroys it.
const (
	OpApply   OpType = "apply"
	OpDestroy OpType = "destroy"
)

// OpStatus is where an operation is. Queued and running operations are
// live; the other three are final.
type OpStatus string

// Operation statuses, as upstream's operations API names them.
const (
	StatusQueued    OpStatus = "queued"
	StatusRunning   OpStatus = "running"
	StatusSucceeded OpStatus = "succeeded"
	StatusFailed    OpStatus = "failed"
	// StatusInterrupted: the process running the operation died before
	// it finished (see Operations.Interrupt).
	StatusInterrupted OpStatus = "interrupted"
)

// Live reports whether s is queued or running.
func (s OpStatus) Live() bool { return s == StatusQueued || s == StatusRunning }

// Op is one launch or destroy request, from the moment it is accepted to
// its end. The JSON names are those of upstream's operations API.
type Op struct {
	ID        int64          `json:"id"`
	Type      OpType         `json:"op_type"`
	Status    OpStatus       `json:"status"`
	Params    map[string]any `json:"params"`
	CreatedBy string         `json:"created_by"`
	CreatedAt time.Time      `json:"created_at"`
	StartedAt *time.Time     `json:"started_at"`
	// FinishedAt is set with a final status.
	FinishedAt *time.Time `json:"finished_at"`
	Output     string     `json:"output"`
	Error      string     `json:"error"`
	// ResourcesTotal and ResourcesCompleted are the planned resource
	// changes of the apply that carries the operation, and how many are
	// done.
	ResourcesTotal     int `json:"resources_total"`
	ResourcesCompleted int `json:"resources_completed"`

	// Environment keys the operation in the store.
	Environment string `json:"environment"`
	// LaunchID names the audit record of the apply that carried the
	// operation, once there is one.
	LaunchID string `json:"launch_id,omitempty"`
	// Owner identifies the process running the operation, in a form the
	// caller chooses; Interrupt hands it back to the caller's test.
	Owner json.RawMessage `json:"owner,omitempty"`
	// UpdatedAt is when the record was last written.
	UpdatedAt time.Time `json:"updated_at"`
	// Nonce is random per record, so that two processes creating
	// operations at the same instant never write identical bytes (a
	// create of identical bytes counts as done, see Store.Create).
	Nonce string `json:"nonce"`
}

// ErrNoOperation reports an operation id the store does not hold.
var ErrNoOperation = errors.New("audit: no such operation")

// Operations keeps operation records in a Store, under
// "<env>/client/operations/<id>.json", rewritten at each change so that a
// restarted process, or another one sharing the store, sees them. Ids are
// whole numbers allocated with Store.Create, so processes sharing a store
// never hand out one id twice. It is safe for concurrent use.
type Operations struct {
	store Store
	now   func() time.Time
}

// NewOperations returns Operations writing to store; opts may be nil (only
// Options.Now is used).
func NewOperations(store Store, opts *Options) *Operations {
	o := &Operations{store: store, now: time.Now}
	if opts != nil && opts.Now != nil {
		o.now = opts.Now
	}
	return o
}

func opsRoot(env string) string { return env + "/client/operations/" }

// opKey zero-pads the id so that keys sort by id.
func opKey(env string, id int64) string { return fmt.Sprintf("%s%012d.json", opsRoot(env), id) }

// maxIDTries bounds the search for a free id when other processes take
// the same ones at the same time.
const maxIDTries = 64

// Create records op as a new operation with the next free id, status
// queued and CreatedAt now, and returns it.
func (o *Operations) Create(ctx context.Context, op Op) (Op, error) {
	if err := checkSegment("environment", op.Environment); err != nil {
		return Op{}, err
	}
	ids, err := o.ids(ctx, op.Environment)
	if err != nil {
		return Op{}, err
	}
	next := int64(1)
	if len(ids) > 0 {
		next = ids[len(ids)-1] + 1
	}
	op.Status, op.CreatedAt = StatusQueued, o.now().UTC()
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return Op{}, fmt.Errorf("audit: operation nonce: %w", err)
	}
	op.Nonce = hex.EncodeToString(nonce[:])
	for range maxIDTries {
		op.ID, op.UpdatedAt = next, op.CreatedAt
		body, err := json.MarshalIndent(op, "", "  ")
		if err != nil {
			return Op{}, fmt.Errorf("audit: encode operation: %w", err)
		}
		err = o.store.Create(ctx, opKey(op.Environment, next), body, ContentTypeJSON)
		if !errors.Is(err, ErrExists) {
			if err != nil {
				return Op{}, fmt.Errorf("audit: record operation: %w", err)
			}
			return op, nil
		}
		next++
	}
	return Op{}, fmt.Errorf("audit: record operation: no free id after %d tries", maxIDTries)
}

// Update rewrites op's record, setting UpdatedAt.
func (o *Operations) Update(ctx context.Context, op Op) error {
	if err := checkSegment("environment", op.Environment); err != nil {
		return err
	}
	if op.ID < 1 {
		return fmt.Errorf("%w: operation id %d", ErrInvalid, op.ID)
	}
	op.UpdatedAt = o.now().UTC()
	body, err := json.MarshalIndent(op, "", "  ")
	if err != nil {
		return fmt.Errorf("audit: encode operation: %w", err)
	}
	if err := o.store.Put(ctx, opKey(op.Environment, op.ID), body, ContentTypeJSON); err != nil {
		return fmt.Errorf("audit: update operation %d: %w", op.ID, err)
	}
	return nil
}

// Get returns the operation id of env, or an error matching
// ErrNoOperation.
func (o *Operations) Get(ctx context.Context, env string, id int64) (Op, error) {
	if err := checkSegment("environment", env); err != nil {
		return Op{}, err
	}
	body, err := o.store.Get(ctx, opKey(env, id))
	if errors.Is(err, ErrNotFound) {
		return Op{}, fmt.Errorf("%w: %d", ErrNoOperation, id)
	}
	if err != nil {
		return Op{}, fmt.Errorf("audit: read operation %d: %w", id, err)
	}
	var op Op
	if err := json.Unmarshal(body, &op); err != nil {
		return Op{}, fmt.Errorf("audit: operation %d: %w", id, err)
	}
	return op, nil
}

// List returns the newest limit operations of env, newest first, those
// with a status in statuses only when statuses is not empty. limit < 1
// means all.
func (o *Operations) List(ctx context.Context, env string, limit int, statuses ...OpStatus) ([]Op, error) {
	if err := checkSegment("environment", env); err != nil {
		return nil, err
	}
	ids, err := o.ids(ctx, env)
	if err != nil {
		return nil, err
	}
	var out []Op
	for i := len(ids) - 1; i >= 0 && (limit < 1 || len(out) < limit); i-- {
		op, err := o.Get(ctx, env, ids[i])
		if errors.Is(err, ErrNoOperation) {
			continue // removed by hand since the listing
		}
		if err != nil {
			return nil, err
		}
		if len(statuses) == 0 || slices.Contains(statuses, op.Status) {
			out = append(out, op)
		}
	}
	return out, nil
}

// Interrupt marks every live operation of env whose process is gone
// (gone(op) true) as interrupted, and returns them. An allocator calls it
// at start: what it left queued or running when it died did not finish.
// Operations of processes that may still run (another allocator sharing
// the store) are left alone.
func (o *Operations) Interrupt(ctx context.Context, env string, gone func(Op) bool) ([]Op, error) {
	live, err := o.List(ctx, env, 0, StatusQueued, StatusRunning)
	if err != nil {
		return nil, err
	}
	var out []Op
	for _, op := range live {
		if !gone(op) {
			continue
		}
		now := o.now().UTC()
		op.Status, op.FinishedAt = StatusInterrupted, &now
		if op.Error == "" {
			op.Error = "the allocator stopped before the operation finished"
		}
		if err := o.Update(ctx, op); err != nil {
			return out, err
		}
		out = append(out, op)
	}
	return out, nil
}

// ids lists the operation ids of env, ascending.
func (o *Operations) ids(ctx context.Context, env string) ([]int64, error) {
	keys, err := o.store.List(ctx, opsRoot(env))
	if err != nil {
		return nil, fmt.Errorf("audit: list operations: %w", err)
	}
	var ids []int64
	for _, k := range keys {
		name, ok := strings.CutSuffix(strings.TrimPrefix(k, opsRoot(env)), ".json")
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
