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

// Options are the optional settings of a Trail and an OpStore. The zero
// value (or a nil *Options) means the defaults.
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

// writer is a Store's write methods bounded by Options.WriteTimeout and
// retried as Options.WriteAttempts says.
type writer struct {
	store    Store
	timeout  time.Duration // <= 0: none
	attempts int
}

func newWriter(store Store, opts *Options) writer {
	w := writer{store: store, timeout: DefaultWriteTimeout, attempts: DefaultWriteAttempts}
	if opts != nil && opts.WriteTimeout != 0 {
		w.timeout = opts.WriteTimeout
	}
	if opts != nil && opts.WriteAttempts > 0 {
		w.attempts = opts.WriteAttempts
	}
	return w
}

func (w writer) create(ctx context.Context, key string, body []byte, contentType string) error {
	return w.do(ctx, "create", key, func(ctx context.Context) error {
		return w.store.Create(ctx, key, body, contentType)
	})
}

func (w writer) put(ctx context.Context, key string, body []byte, contentType string) error {
	return w.do(ctx, "put", key, func(ctx context.Context) error {
		return w.store.Put(ctx, key, body, contentType)
	})
}

func (w writer) delete(ctx context.Context, key string) error {
	return w.do(ctx, "delete", key, func(ctx context.Context) error {
		return w.store.Delete(ctx, key)
	})
}

// errAttemptTimeout is the cause of a context that ended because one
// attempt of a write ran out of time, told apart from the caller's own
// deadline with context.Cause.
var errAttemptTimeout = errors.New("attempt timed out")

// do runs write with a context bounded by w.timeout, again after a backoff
// when that bound (and not ctx) ended it, at most w.attempts times.
func (w writer) do(ctx context.Context, verb, key string, write func(context.Context) error) error {
	if w.timeout <= 0 {
		return write(ctx)
	}
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeoutCause(ctx, w.timeout, errAttemptTimeout)
		err := write(actx)
		timedOut := err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errAttemptTimeout)
		cancel()
		switch {
		case !timedOut:
			return err
		case attempt == w.attempts:
			return fmt.Errorf("audit: %s %s: %w (%d attempts of %s): %w",
				verb, w.store.Location(key), ErrTimeout, attempt, w.timeout, err)
		}
		if serr := sleep(ctx, backoffFrom(writeBackoff, attempt)); serr != nil {
			return fmt.Errorf("audit: %s %s: waiting to retry after a timeout: %w (%w)", verb, w.store.Location(key), serr, err)
		}
	}
}
