package audit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Defaults of Options.WriteTimeout and Options.WriteAttempts.
const (
	DefaultWriteTimeout  = 15 * time.Second
	DefaultWriteAttempts = 3
)

// writeBackoff is the wait before the first retry of a write that timed
// out; it doubles for each further retry, with jitter (see backoff).
const writeBackoff = 500 * time.Millisecond

// Options are the optional settings of a Trail, an OpStore and
// BoundedWrites. The zero value (or a nil *Options) means the defaults.
type Options struct {
	// Now returns the current time; Started, Finished and an operation's
	// times are Now().UTC(). Default time.Now.
	Now func() time.Time
	// NewID returns a fresh launch ID, which must be a safe key segment
	// (letters, digits, '.', '_', '-'; starting with a letter or digit).
	// Default: Now's UTC time as "20060102T150405Z", "-", and 8 random hex
	// digits, so IDs sort by time. Used by a Trail only.
	NewID func() string
	// WriteTimeout bounds each attempt of each write to the Store, so that
	// a stalled S3 endpoint cannot hold the caller for ever, even when the
	// caller's context never ends (a Finish that records a canceled launch
	// runs with context.WithoutCancel). An attempt that times out is tried
	// again, up to WriteAttempts in all, waiting 0.5 s, then 1 s, ...
	// (with jitter) in between; a write that still times out returns an
	// error matching ErrTimeout and context.DeadlineExceeded that names the
	// object. Retrying is safe: Create accepts its own bytes already
	// stored, Put and Delete are idempotent. Other errors are returned at
	// once (the AWS SDK has already retried what it deems transient).
	// Default 15 s; a negative value sets no timeout of this package's own.
	WriteTimeout time.Duration
	// WriteAttempts is the number of attempts of a write that times out.
	// Default 3.
	WriteAttempts int
}

// BoundedWrites returns store with its writes (Create, Put and Delete)
// bounded by opts.WriteTimeout and retried as opts.WriteAttempts says; see
// Options. Get, List and Location are store's own. A Trail and an OpStore
// bound their writes this way themselves; code that writes to a Store
// directly, as package schedule does, wraps it so that its writes, too,
// end when the caller's context never does. opts may be nil (the
// defaults); its other fields are not used. Wrapping a store that
// BoundedWrites returned replaces its bounds rather than adding to them,
// and a negative WriteTimeout returns the unbounded store. The result is
// safe for concurrent use if store is.
func BoundedWrites(store Store, opts *Options) Store {
	if b, ok := store.(*boundedStore); ok {
		store = b.Store
	}
	b := &boundedStore{Store: store, timeout: DefaultWriteTimeout, attempts: DefaultWriteAttempts}
	if opts != nil && opts.WriteTimeout != 0 {
		b.timeout = opts.WriteTimeout
	}
	if opts != nil && opts.WriteAttempts > 0 {
		b.attempts = opts.WriteAttempts
	}
	if b.timeout < 0 {
		return store
	}
	return b
}

// boundedStore is what BoundedWrites returns.
type boundedStore struct {
	Store
	timeout  time.Duration // > 0
	attempts int
}

func (b *boundedStore) Create(ctx context.Context, key string, body []byte, contentType string) error {
	return b.do(ctx, "create", key, func(ctx context.Context) error {
		return b.Store.Create(ctx, key, body, contentType)
	})
}

func (b *boundedStore) Put(ctx context.Context, key string, body []byte, contentType string) error {
	return b.do(ctx, "put", key, func(ctx context.Context) error {
		return b.Store.Put(ctx, key, body, contentType)
	})
}

func (b *boundedStore) Delete(ctx context.Context, key string) error {
	return b.do(ctx, "delete", key, func(ctx context.Context) error {
		return b.Store.Delete(ctx, key)
	})
}

// errAttemptTimeout is the cause of a context that ended because one
// attempt of a write ran out of time, told apart from the caller's own
// deadline with context.Cause.
var errAttemptTimeout = errors.New("attempt timed out")

// do runs write with a context bounded by b.timeout, again after a backoff
// when that bound (and not ctx) ended it, at most b.attempts times.
func (b *boundedStore) do(ctx context.Context, verb, key string, write func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeoutCause(ctx, b.timeout, errAttemptTimeout)
		err := write(actx)
		timedOut := err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errAttemptTimeout)
		cancel()
		switch {
		case !timedOut:
			return err
		case attempt == b.attempts:
			return fmt.Errorf("audit: %s %s: %w (%d attempts of %s): %w",
				verb, b.Location(key), ErrTimeout, attempt, b.timeout, err)
		}
		if serr := sleep(ctx, backoffFrom(writeBackoff, attempt)); serr != nil {
			return fmt.Errorf("audit: %s %s: waiting to retry after a timeout: %w (%w)", verb, b.Location(key), serr, err)
		}
	}
}
