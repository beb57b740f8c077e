package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Bounds on retrying a conditional write that S3 answers with 409
// ConditionalRequestConflict. The n-th retry waits between half and all of
// conflictBackoff<<(n-1), so the attempts of two writers drift apart.
const (
	conflictAttempts = 5
	conflictBackoff  = 100 * time.Millisecond
)

// Create implements Store with a conditional write (If-None-Match: *), so
// the server refuses to replace an existing object even when two writers
// race. The answers of that write mean, as the S3 API reference for
// PutObject describes them:
//
//   - 412 Precondition Failed: the key exists. Create reads the object back
//     and succeeds if it holds the same bytes (same SHA-256): an earlier
//     attempt of this very write stored it, typically the SDK's own retry
//     after an answer that was lost. Other bytes are an error matching
//     ErrExists and the SDK's 412 error, naming the object and both
//     digests. When the object cannot be read back (a client without
//     GetObject, no read permission), the error matches ErrExists too,
//     and the reason: Create never claims a write it cannot confirm.
//   - 409 ConditionalRequestConflict: a concurrent conditional write was in
//     progress and nothing was stored. Create tries again, five attempts in
//     all, waiting a little longer each time (100ms, then doubling, with
//     jitter), and stops when ctx is done (the error then matches
//     ctx.Err()). The last 409 is returned as the SDK's error.
func (s *S3Store) Create(ctx context.Context, key string, body []byte, contentType string) error {
	for attempt := 1; ; attempt++ {
		err := s.put(ctx, key, body, contentType, true)
		switch {
		case err == nil:
			return nil
		case isPreconditionFailed(err):
			return s.compareExisting(ctx, key, body, err)
		case !isConflict(err):
			return fmt.Errorf("audit: create %s: %w", s.Location(key), err)
		case attempt == conflictAttempts:
			return fmt.Errorf("audit: create %s: still conflicting after %d attempts: %w", s.Location(key), attempt, err)
		}
		if err := sleep(ctx, backoffFrom(conflictBackoff, attempt)); err != nil {
			return fmt.Errorf("audit: create %s: waiting to retry a conflicting write: %w", s.Location(key), err)
		}
	}
}

// compareExisting decides a Create that found key written (precondition is
// the SDK's 412 error): nil when the stored object is body.
func (s *S3Store) compareExisting(ctx context.Context, key string, body []byte, precondition error) error {
	loc := s.Location(key)
	stored, err := s.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("audit: create %s: %w and cannot be compared: %w (%w)", loc, ErrExists, err, precondition)
	}
	want, got := sha256.Sum256(body), sha256.Sum256(stored)
	if got != want {
		return fmt.Errorf("audit: create %s: %w with other content (sha256 %x, this write %x): %w", loc, ErrExists, got, want, precondition)
	}
	return nil
}

// backoffFrom is the wait before the retry that follows attempt (from 1)
// when the first retry waits about base: between half and all of
// base<<(attempt-1), so that the retries of two writers drift apart.
func backoffFrom(base time.Duration, attempt int) time.Duration {
	d := base << (attempt - 1)
	return d/2 + rand.N(d/2)
}

// sleep waits for d or until ctx is done, returning ctx.Err() then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func isPreconditionFailed(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed" {
		return true
	}
	return hasStatus(err, http.StatusPreconditionFailed)
}

func isConflict(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ConditionalRequestConflict" {
		return true
	}
	return hasStatus(err, http.StatusConflict)
}

func hasStatus(err error, code int) bool {
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == code
}
