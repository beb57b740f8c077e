package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lablink-go/lablink/internal/atomicfile"
)

// tmpPrefix starts the names of DirStore's temporary files. Keys whose
// segments start with it are refused and List never shows such files.
const tmpPrefix = ".audit-tmp-"

// DirStore is a Store in a local directory, one file per key (the key's
// slashes become directories). It is the default when no bucket is
// configured. Objects are written to a temporary file in the target's
// directory, synced, and then moved into place, so a crash never leaves a
// partial object under a key. Files are created 0600 and directories 0700.
// DirStore is safe for concurrent use, also by several processes sharing
// the directory.
type DirStore struct {
	dir string
}

// NewDirStore returns a Store rooted at dir. The directory is created, with
// its parents, on the first write; nothing is checked here.
func NewDirStore(dir string) *DirStore {
	return &DirStore{dir: filepath.Clean(dir)}
}

func (d *DirStore) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, tmpPrefix) {
			return "", fmt.Errorf("%w: key %q uses the reserved prefix %q", ErrInvalid, key, tmpPrefix)
		}
	}
	return filepath.Join(d.dir, filepath.FromSlash(key)), nil
}

// Create implements Store. The object is moved into place with a hard link,
// which fails when the name exists, giving O_EXCL semantics without ever
// exposing a partly written file. The file system must support hard links.
// An existing file is read back: the same bytes are success, as for
// S3Store, other bytes (or a directory) an error matching ErrExists.
func (d *DirStore) Create(ctx context.Context, key string, body []byte, _ string) error {
	err := d.write(ctx, key, body, func(tmp, final string) error {
		err := os.Link(tmp, final)
		if errors.Is(err, fs.ErrExist) {
			return sameFile(final, body, err)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("audit: create %s: %w", d.Location(key), err)
	}
	return nil
}

// sameFile returns nil when the file at p holds body, and otherwise an
// error matching ErrExists and exist, the error of the refused link.
func sameFile(p string, body []byte, exist error) error {
	stored, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("%w and cannot be compared: %w (%w)", ErrExists, err, exist)
	}
	if !bytes.Equal(stored, body) {
		return fmt.Errorf("%w with other content: %w", ErrExists, exist)
	}
	return nil
}

// Put implements Store: temporary file, fsync, rename over the old object.
func (d *DirStore) Put(ctx context.Context, key string, body []byte, _ string) error {
	if err := d.write(ctx, key, body, os.Rename); err != nil {
		return fmt.Errorf("audit: put %s: %w", d.Location(key), err)
	}
	return nil
}

// write writes body to a temporary file next to key's file, syncs it, and
// calls commit to move it into place. The temporary file is removed in every
// case; after a successful commit the directory is synced too.
func (d *DirStore) write(ctx context.Context, key string, body []byte, commit func(tmp, final string) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	final, err := d.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(final)
	f, err := createTemp(dir)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		// After a link or a failure; nothing is left after a rename.
		if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}()
	if _, err := f.Write(body); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := commit(tmp, final); err != nil {
		return err
	}
	return atomicfile.SyncDir(dir)
}

// createTemp creates a temporary file (mode 0600) in dir, making dir first.
// A Delete may remove the directory, when it became empty, between the two
// steps, or a parent of it while MkdirAll makes the next level; then both
// are tried again.
func createTemp(dir string) (*os.File, error) {
	for try := 1; ; try++ {
		var f *os.File
		err := os.MkdirAll(dir, 0o700)
		if err == nil {
			f, err = os.CreateTemp(dir, tmpPrefix+"*")
		}
		if err == nil || !errors.Is(err, fs.ErrNotExist) || try == 5 {
			return f, err
		}
	}
}

// Delete implements Store. The directories that the removal leaves empty
// are removed too, up to the store's own directory, so that keys deleted
// in bulk (the operation store's status index) leave nothing for List to
// walk through.
func (d *DirStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("audit: delete %s: %w", p, err)
	}
	for i := strings.LastIndex(key, "/"); i > 0; i = strings.LastIndex(key[:i], "/") {
		// Fails, and stops, at the first directory that is not empty
		// (or that another writer has just filled).
		if os.Remove(d.Location(key[:i])) != nil {
			break
		}
	}
	return nil
}

// Get implements Store.
func (d *DirStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("audit: get %s: %w: %w", p, ErrNotFound, err)
		}
		return nil, fmt.Errorf("audit: get %s: %w", p, err)
	}
	return b, nil
}

// Location implements Store: the file path of key.
func (d *DirStore) Location(key string) string {
	return filepath.Join(d.dir, filepath.FromSlash(key))
}
