package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
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
	// it finished (see OpStore.Interrupt).
	StatusInterrupted OpStatus = "interrupted"
)

// Live reports whether s is queued or running.
func (s OpStatus) Live() bool { return s == StatusQueued || s == StatusRunning }

// rank orders the statuses as an operation moves through them.
func (s OpStatus) rank() int {
	switch s {
	case StatusQueued:
		return 0
	case StatusRunning:
		return 1
	}
	return 2
}

func (s OpStatus) valid() bool {
	switch s {
	case StatusQueued, StatusRunning, StatusSucceeded, StatusFailed, StatusInterrupted:
		return true
	}
	return false
}

// Op is one launch or destroy request, from the moment it is accepted to
// its end. The JSON names are those of upstream's operations API.
type Op struct {
	ID int64 `json:"id"`
	// Action is what the operation does. Its JSON is upstream's "op_type":
	// "apply" for Launch, "destroy" for Destroy (see Action.OpType);
	// reading takes "launch" for Launch too.
	Action    Action         `json:"op_type"`
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

// opType is Action in an operation record's JSON.
type opType Action

func (a opType) MarshalText() ([]byte, error) {
	if !Action(a).valid() {
		return nil, fmt.Errorf("%w: action %q: want %q or %q", ErrInvalid, string(a), Launch, Destroy)
	}
	return []byte(Action(a).OpType()), nil
}

func (a *opType) UnmarshalText(b []byte) error {
	switch s := string(b); s {
	case "apply", string(Launch):
		*a = opType(Launch)
	default: // "destroy", or a word of another writer, kept as it is
		*a = opType(s)
	}
	return nil
}

// MarshalJSON writes op with upstream's "op_type" words.
func (op Op) MarshalJSON() ([]byte, error) {
	type plain Op // without these methods
	return json.Marshal(struct {
		plain
		Action opType `json:"op_type"` // hides plain.Action
	}{plain(op), opType(op.Action)})
}

// UnmarshalJSON reads an operation record, "op_type" "apply" or "launch"
// as Launch.
func (op *Op) UnmarshalJSON(b []byte) error {
	type plain Op
	v := struct {
		*plain
		Action opType `json:"op_type"`
	}{plain: (*plain)(op)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	op.Action = Action(v.Action)
	return nil
}

// ErrNoOperation reports an operation id the store does not hold.
var ErrNoOperation = errors.New("audit: no such operation")

// OpStore keeps operation records in a Store, one object per operation,
// rewritten at each change so that a restarted process, or another one
// sharing the store, sees them; see the package documentation for the
// keys. Ids are whole numbers from 1, allocated with Store.Create, so
// processes sharing a store never hand out one id twice. Every read is
// bounded: Create reads one key to find the next id, List about as many
// objects as it returns, Interrupt the live operations only.
//
// An OpStore is safe for concurrent use. It keeps in memory the
// environments whose records it has found in the current layout, and the
// status it last wrote of each live operation, so that an Update whose
// status is unchanged writes the record only.
type OpStore struct {
	store Store
	now   func() time.Time

	layout layoutCheck
	mu     sync.Mutex
	status map[opRef]OpStatus
}

type opRef struct {
	env string
	id  int64
}

// NewOpStore returns an OpStore writing to store; opts may be nil
// (Options.NewID is not used).
func NewOpStore(store Store, opts *Options) *OpStore {
	o := &OpStore{store: BoundedWrites(store, opts), now: time.Now, status: map[opRef]OpStatus{}}
	if opts != nil && opts.Now != nil {
		o.now = opts.Now
	}
	return o
}

// maxIDTries bounds the search for a free id when other processes take
// the same ones at the same time.
const maxIDTries = 64

// Create records op as a new operation with the next free id, status
// queued and CreatedAt now, and returns it. op.Environment and op.Action
// must be set.
func (o *OpStore) Create(ctx context.Context, op Op) (Op, error) {
	env := op.Environment
	if err := checkSegment("environment", env); err != nil {
		return Op{}, fmt.Errorf("audit: create operation: %w", err)
	}
	if !op.Action.valid() {
		return Op{}, fmt.Errorf("audit: create operation: %w: action %q: want %q or %q", ErrInvalid, op.Action, Launch, Destroy)
	}
	if err := o.ready(ctx, env); err != nil {
		return Op{}, err
	}
	last, err := o.newest(ctx, env)
	if err != nil {
		return Op{}, err
	}
	op.Status, op.CreatedAt = StatusQueued, o.now().UTC()
	op.UpdatedAt = op.CreatedAt
	op.Nonce = fmt.Sprintf("%016x", rand.Uint64())
	for id := last + 1; id <= last+maxIDTries; id++ {
		op.ID = id
		body, err := json.MarshalIndent(op, "", "  ")
		if err != nil {
			return Op{}, fmt.Errorf("audit: encode operation: %w", err)
		}
		// The status entry first, so that no live record lacks one
		// (Interrupt finds live operations through them). An entry
		// whose record is another's, or none, is told apart by reading
		// the record.
		if err := o.store.Create(ctx, opStatusKey(env, StatusQueued, id), idBody(id), contentTypeText); err != nil {
			return Op{}, fmt.Errorf("audit: record operation %d: %w", id, err)
		}
		err = o.store.Create(ctx, opRecordKey(env, id), body, ContentTypeJSON)
		if errors.Is(err, ErrExists) {
			continue // another process took id
		}
		if err != nil {
			return Op{}, fmt.Errorf("audit: record operation %d: %w", id, err)
		}
		o.remember(env, id, StatusQueued)
		return op, nil
	}
	return Op{}, fmt.Errorf("audit: record operation: no free id after %d tries", maxIDTries)
}

// newest returns the highest operation id of env, 0 when there is none:
// one List of one key, since records sort newest first.
func (o *OpStore) newest(ctx context.Context, env string) (int64, error) {
	keys, err := o.store.List(ctx, opRecordsRoot(env), ListOptions{MaxKeys: 1})
	if err != nil {
		return 0, fmt.Errorf("audit: newest operation: %w", err)
	}
	if len(keys) == 0 {
		return 0, nil
	}
	id, ok := parseOpKey(keys[0], ".json")
	if !ok {
		return 0, fmt.Errorf("audit: newest operation: %w: unexpected object %s", ErrInvalid, o.store.Location(keys[0]))
	}
	return id, nil
}

// Update rewrites op's record, setting UpdatedAt. When the status changes,
// the status index follows: the new entry is written before the record,
// the old one removed after it.
func (o *OpStore) Update(ctx context.Context, op Op) error {
	if err := checkSegment("environment", op.Environment); err != nil {
		return fmt.Errorf("audit: update operation: %w", err)
	}
	if op.ID < 1 {
		return fmt.Errorf("audit: update operation: %w: id %d", ErrInvalid, op.ID)
	}
	if !op.Status.valid() {
		return fmt.Errorf("audit: update operation %d: %w: status %q", op.ID, ErrInvalid, op.Status)
	}
	if err := o.ready(ctx, op.Environment); err != nil {
		return err
	}
	prev, err := o.previous(ctx, op.Environment, op.ID)
	if err != nil {
		return err
	}
	return o.update(ctx, op, prev)
}

// update writes op, whose stored status is prev ("" for none).
func (o *OpStore) update(ctx context.Context, op Op, prev OpStatus) error {
	env, id := op.Environment, op.ID
	op.UpdatedAt = o.now().UTC()
	body, err := json.MarshalIndent(op, "", "  ")
	if err != nil {
		return fmt.Errorf("audit: encode operation %d: %w", id, err)
	}
	if op.Status != prev {
		if err := o.store.Create(ctx, opStatusKey(env, op.Status, id), idBody(id), contentTypeText); err != nil {
			return fmt.Errorf("audit: update operation %d: %w", id, err)
		}
	}
	if err := o.store.Put(ctx, opRecordKey(env, id), body, ContentTypeJSON); err != nil {
		return fmt.Errorf("audit: update operation %d: %w", id, err)
	}
	if prev.valid() && op.Status != prev {
		if err := o.store.Delete(ctx, opStatusKey(env, prev, id)); err != nil {
			return fmt.Errorf("audit: update operation %d: %w", id, err)
		}
	}
	o.remember(env, id, op.Status)
	return nil
}

// previous is the stored status of operation id: the one this store last
// wrote while it is live, else the record's.
func (o *OpStore) previous(ctx context.Context, env string, id int64) (OpStatus, error) {
	o.mu.Lock()
	s, ok := o.status[opRef{env, id}]
	o.mu.Unlock()
	if ok {
		return s, nil
	}
	op, err := o.Get(ctx, env, id)
	if errors.Is(err, ErrNoOperation) {
		return "", nil
	}
	return op.Status, err
}

// remember notes the status written of operation id, forgetting it once
// final.
func (o *OpStore) remember(env string, id int64, s OpStatus) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s.Live() {
		o.status[opRef{env, id}] = s
	} else {
		delete(o.status, opRef{env, id})
	}
}

// Get returns the operation id of env, or an error matching
// ErrNoOperation.
func (o *OpStore) Get(ctx context.Context, env string, id int64) (Op, error) {
	if err := checkSegment("environment", env); err != nil {
		return Op{}, fmt.Errorf("audit: read operation: %w", err)
	}
	if id < 1 {
		return Op{}, fmt.Errorf("%w: %d", ErrNoOperation, id)
	}
	if err := o.ready(ctx, env); err != nil {
		return Op{}, err
	}
	return o.get(ctx, env, id)
}

func (o *OpStore) get(ctx context.Context, env string, id int64) (Op, error) {
	body, err := o.store.Get(ctx, opRecordKey(env, id))
	if errors.Is(err, ErrNotFound) {
		return Op{}, fmt.Errorf("%w: %d", ErrNoOperation, id)
	}
	if err != nil {
		return Op{}, fmt.Errorf("audit: read operation %d: %w", id, err)
	}
	var op Op
	if err := json.Unmarshal(body, &op); err != nil {
		return Op{}, fmt.Errorf("audit: decode %s: %w", o.store.Location(opRecordKey(env, id)), err)
	}
	return op, nil
}

func idBody(id int64) []byte { return []byte(strconv.FormatInt(id, 10) + "\n") }
