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
	// List returns the keys that start with prefix (a plain string prefix,
	// not necessarily ending in "/"), sorted. No match is an empty list.
	List(ctx context.Context, prefix string) ([]string, error)
	// Location names key for people: "s3://bucket/prefix/key" or a file path.
	Location(key string) string
}

var (
	// ErrExists reports that Create found the key already written with
	// other bytes, or could not read it back to compare.
	ErrExists = errors.New("audit: object already exists")
	// ErrNotFound reports that Get found no object under the key.
	ErrNotFound = errors.New("audit: object not found")
	// ErrNotReadable reports that a Store can write but not read: an
	// S3Store whose client has PutObject but not GetObject (for Get) or
	// ListObjectsV2 (for List). Trail.List and Trail.Show pass it on.
	ErrNotReadable = errors.New("audit: store cannot read")
	// ErrInvalid reports a key, environment, launch ID or manifest field
	// that cannot be used.
	ErrInvalid = errors.New("audit: invalid argument")
)

// Content types of the stored objects.
const (
	ContentTypeTFVars = "text/plain"
	ContentTypeJSON   = "application/json"
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
