package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// List implements Store. It walks the directories in the order of the keys
// they hold, reading only those that can hold a key of the prefix after
// opts.StartAfter, and stops after opts.MaxKeys keys: a page costs one
// directory read per level plus the files it returns. A missing directory
// holds no keys.
func (d *DirStore) List(ctx context.Context, prefix string, opts ListOptions) ([]string, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := &dirWalk{ctx: ctx, prefix: prefix, after: opts.StartAfter, max: opts.MaxKeys, keys: []string{}}
	// Start at the deepest directory the prefix names completely.
	base := prefix[:strings.LastIndex(prefix, "/")+1]
	err := w.walk(filepath.Join(d.dir, filepath.FromSlash(base)), base)
	if err != nil && !errors.Is(err, errFull) {
		return nil, fmt.Errorf("audit: list %s: %w", d.Location(prefix), err)
	}
	return w.keys, nil
}

// errFull stops a dirWalk that has found MaxKeys keys.
var errFull = errors.New("page full")

type dirWalk struct {
	ctx    context.Context
	prefix string
	after  string
	max    int
	keys   []string
}

// walk adds the keys under directory path, whose key prefix is base ("" or
// ending in "/"), in key order. Entries sort by their name with a "/"
// appended for directories: every key below directory "a" starts with
// "a/", so that name places the whole subtree among its siblings (a file
// "a-b" comes before it, "a0" after).
func (w *dirWalk) walk(path, base string) error {
	entries, err := os.ReadDir(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // never made, or removed by a Delete meanwhile
	}
	if err != nil {
		return err
	}
	type entry struct {
		name string // key name: with a trailing "/" for a directory
		dir  bool
	}
	var list []entry
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), tmpPrefix):
		case e.IsDir():
			list = append(list, entry{e.Name() + "/", true})
		case e.Type().IsRegular():
			list = append(list, entry{e.Name(), false})
		}
	}
	slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	for _, e := range list {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		k := base + e.name
		if !e.dir {
			if strings.HasPrefix(k, w.prefix) && k > w.after {
				w.keys = append(w.keys, k)
				if w.max > 0 && len(w.keys) == w.max {
					return errFull
				}
			}
			continue
		}
		// A directory is read when its keys can start with the prefix
		// and can sort after StartAfter: some do unless k sorts before
		// StartAfter without being a prefix of it.
		related := strings.HasPrefix(k, w.prefix) || strings.HasPrefix(w.prefix, k)
		before := k < w.after && !strings.HasPrefix(w.after, k)
		if !related || before {
			continue
		}
		if err := w.walk(filepath.Join(path, strings.TrimSuffix(e.name, "/")), k); err != nil {
			return err
		}
	}
	return nil
}
