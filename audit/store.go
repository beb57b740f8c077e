package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Store holds audit objects under slash-separated keys. Implementations are
// safe for concurrent use.
type Store interface {
	// Create writes key only if it does not exist yet. If it exists and
	// holds exactly body, Create succeeds, so a retried write is not an
	// error; if it holds other bytes (or cannot be read to compare),
	// Create returns an error matching ErrExists and leaves the existing
	// object unchanged.
	Create(ctx context.Context, key string, body []byte, contentType string) error
	// Put writes key, replacing any previous object.
	Put(ctx context.Context, key string, body []byte, contentType string) error
	// Get returns the object's body, or an error matching ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Delete removes key. A key that does not exist is not an error.
	Delete(ctx context.Context, key string) error
	// List returns, in ascending byte order, the keys that start with
	// prefix (a plain string prefix, not necessarily ending in "/") and
	// sort after opts.StartAfter, at most opts.MaxKeys of them. No match
	// is an empty list. The cost of a call grows with the keys it returns,
	// not with the keys it skips, as far as the backend allows: S3's
	// ListObjectsV2 does this; DirStore and MinIO read each directory on
	// the way, so keys that are meant to be paged through are spread over
	// directories of bounded size (see the package documentation).
	List(ctx context.Context, prefix string, opts ListOptions) ([]string, error)
	// Location names key for people: "s3://bucket/prefix/key" or a file path.
	Location(key string) string
}

// ListOptions bound a Store.List, as ListObjectsV2's parameters of the same
// names do. The zero value lists every key under the prefix.
type ListOptions struct {
	// StartAfter, when not empty, skips the keys that sort before it or
	// equal it; it need not be a stored key. Default "": from the first.
	StartAfter string
	// MaxKeys, when positive, stops the list after that many keys.
	// Default 0: no limit.
	MaxKeys int
}

var (
	// ErrExists reports that Create found the key already written with
	// other bytes, or could not read it back to compare.
	ErrExists = errors.New("audit: object already exists")
	// ErrNotFound reports that Get found no object under the key, or that
	// a Trail holds no record asked for.
	ErrNotFound = errors.New("audit: object not found")
	// ErrNotReadable reports that a Store can write but not read: an
	// S3Store whose client has PutObject but not GetObject (for Get) or
	// ListObjectsV2 (for List). Trail and OpStore reads pass it on. (A
	// client without DeleteObject makes Delete fail with an error matching
	// errors.ErrUnsupported.)
	ErrNotReadable = errors.New("audit: store cannot read")
	// ErrInvalid reports a key, environment, launch ID, cursor or manifest
	// field that cannot be used.
	ErrInvalid = errors.New("audit: invalid argument")
	// ErrTimeout reports a write of a Trail, an OpStore or a store that
	// BoundedWrites returned that did not finish within
	// Options.WriteTimeout in any of its attempts. The error
	// names the object and matches context.DeadlineExceeded too.
	ErrTimeout = errors.New("audit: write timed out")
)

// Content types of the stored objects.
const (
	ContentTypeTFVars = "text/plain"
	ContentTypeJSON   = "application/json"

	contentTypeText = "text/plain" // index entries and markers
)

// checkKey accepts keys made of non-empty slash-separated segments, none of
// them "." or "..", with no leading slash, backslash or control character,
// so that a key names the same object in S3 and on disk and cannot escape a
// DirStore's directory.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalid)
	}
	if strings.ContainsRune(key, '\\') {
		return fmt.Errorf("%w: key %q contains a backslash", ErrInvalid, key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: key %q contains a control character", ErrInvalid, key)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: key %q has an empty segment or a leading or trailing slash", ErrInvalid, key)
		case ".", "..":
			return fmt.Errorf("%w: key %q has a %q segment", ErrInvalid, key, seg)
		}
	}
	return nil
}

// checkPrefix accepts "" or a key prefix whose complete segments obey
// checkKey's rules; a trailing slash is allowed.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := checkKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("%w: prefix %q", ErrInvalid, prefix)
	}
	return nil
}

// Digest returns "sha256:" followed by the lowercase hex SHA-256 of b, the
// form of Manifest.ConfigDigest.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
