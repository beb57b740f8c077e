package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// HistoryQuery selects a page of Trail.List. The zero value lists every
// attempt.
type HistoryQuery struct {
	// Limit, when positive, is the most attempts returned. Default 0: all
	// of them, which reads the whole history; a page reads about Limit
	// objects whatever the history holds.
	Limit int
	// After is the cursor that List returned with the previous page: the
	// page starts with the attempt that follows it, newest first. Default
	// "": with the newest attempt.
	After string
}

// historyIndexRoot is the prefix of env's history index.
func historyIndexRoot(env string) string { return env + "/client/history-index/" }

// historyMarker is the object that says env's history index holds every
// attempt, those recorded before the index existed included.
func historyMarker(env string) string { return env + "/client/history-index.json" }

// historyLeaf names an attempt in the history index: Started inverted in
// Unix milliseconds, "-", the launch ID.
func historyLeaf(started time.Time, launchID string) string {
	return inverted(started.UnixMilli(), historyWidth) + "-" + launchID
}

func historyIndexKey(env, leaf string) string {
	return historyIndexRoot(env) + sharded(leaf, historyShards) + leaf
}

// parseHistoryLeaf returns the launch ID of an index entry's name, or of a
// cursor, which is one.
func parseHistoryLeaf(leaf string) (string, error) {
	inv, id, ok := strings.Cut(leaf, "-")
	if !ok || !allDigits(inv, historyWidth) {
		return "", fmt.Errorf("%w: history cursor %q", ErrInvalid, leaf)
	}
	if err := checkSegment("launch ID", id); err != nil {
		return "", err
	}
	return id, nil
}

// Latest returns the newest attempt recorded for env (by Started), as List
// would return it first, reading a few objects however long the history.
// An environment without a record is an error matching ErrNotFound.
func (t *Trail) Latest(ctx context.Context, env string) (Manifest, error) {
	ms, _, err := t.List(ctx, env, HistoryQuery{Limit: 1})
	if err != nil {
		return Manifest{}, err
	}
	if len(ms) == 0 {
		return Manifest{}, fmt.Errorf("audit: latest of %s: %w: no attempt recorded", env, ErrNotFound)
	}
	return ms[0], nil
}

// List returns a page of the attempts recorded for env, newest first (by
// Started to the millisecond, then by launch ID), and the cursor of the
// next page ("" after the last). An attempt that has not finished shows as
// its attempt.json, with Outcome "started". A Begin that failed half way is
// not listed.
//
// List reads the history index (one List of the Store per page) and one or
// two objects per attempt returned. The first List or Latest of an
// environment in a Trail checks that its index is complete and, for a
// history written before the index existed, builds it, reading the whole
// history once (see the package documentation).
func (t *Trail) List(ctx context.Context, env string, q HistoryQuery) (ms []Manifest, next string, err error) {
	if err := checkSegment("environment", env); err != nil {
		return nil, "", fmt.Errorf("audit: list: %w", err)
	}
	after := ""
	if q.After != "" {
		if _, err := parseHistoryLeaf(q.After); err != nil {
			return nil, "", fmt.Errorf("audit: list: %w", err)
		}
		after = historyIndexKey(env, q.After)
	}
	if err := t.ready(ctx, env); err != nil {
		return nil, "", err
	}
	root := historyIndexRoot(env)
	ms = []Manifest{}
	for {
		want := 0 // all
		if q.Limit > 0 {
			want = q.Limit - len(ms) + 1 // one more tells whether a next page exists
		}
		keys, err := t.store.List(ctx, root, ListOptions{StartAfter: after, MaxKeys: want})
		if err != nil {
			return nil, "", err
		}
		for _, k := range keys {
			if q.Limit > 0 && len(ms) == q.Limit {
				return ms, next, nil
			}
			after = k
			m, ok, err := t.entry(ctx, env, k)
			if err != nil {
				return nil, "", err
			}
			if ok {
				ms, next = append(ms, m), k[strings.LastIndex(k, "/")+1:]
			}
		}
		if want == 0 || len(keys) < want {
			return ms, "", nil
		}
	}
}

// entry reads the attempt that index entry key names: false when the key
// is not an index entry or its attempt is gone (removed by hand).
func (t *Trail) entry(ctx context.Context, env, key string) (Manifest, bool, error) {
	id, err := parseHistoryLeaf(key[strings.LastIndex(key, "/")+1:])
	if err != nil {
		return Manifest{}, false, nil
	}
	m, err := t.attempt(ctx, env, id)
	if errors.Is(err, ErrNotFound) {
		return Manifest{}, false, nil
	}
	return m, err == nil, err
}

// attempt reads the manifest of launchID, or its attempt.json while it has
// not finished.
func (t *Trail) attempt(ctx context.Context, env, launchID string) (Manifest, error) {
	prefix := HistoryPrefix(env, launchID)
	m, err := t.read(ctx, prefix+ManifestName)
	if errors.Is(err, ErrNotFound) {
		m, err = t.read(ctx, prefix+AttemptName)
	}
	return m, err
}

// ready makes sure env's history index is complete (see buildIndex), once
// per environment and Trail.
func (t *Trail) ready(ctx context.Context, env string) error {
	return t.layout.ensure(ctx, t.store, env, historyMarker(env), t.buildIndex)
}

// buildIndex indexes the attempts of env's history that have no index entry
// (those written before the index existed) and then writes the marker
// (marked says whether it could; see layoutCheck). Processes doing it at
// once write the same entries, which Create accepts.
func (t *Trail) buildIndex(ctx context.Context, env string) (marked bool, err error) {
	keys, err := t.store.List(ctx, historyRoot(env), ListOptions{})
	if err != nil {
		return false, err
	}
	entries, err := t.store.List(ctx, historyIndexRoot(env), ListOptions{})
	if err != nil {
		return false, err
	}
	done := map[string]bool{}
	for _, k := range entries {
		if id, err := parseHistoryLeaf(k[strings.LastIndex(k, "/")+1:]); err == nil {
			done[id] = true
		}
	}
	root := historyRoot(env)
	for _, k := range keys {
		id, name, ok := strings.Cut(strings.TrimPrefix(k, root), "/")
		if !ok || name != AttemptName || done[id] || checkSegment("launch ID", id) != nil {
			continue
		}
		m, err := t.read(ctx, k)
		if err != nil {
			return false, fmt.Errorf("audit: index the history of %s: %w", env, err)
		}
		leaf := historyLeaf(m.Started, id)
		if err := t.store.Create(ctx, historyIndexKey(env, leaf), []byte(id+"\n"), contentTypeText); err != nil {
			return false, fmt.Errorf("audit: index the history of %s: %w", env, err)
		}
	}
	err = t.store.Create(ctx, historyMarker(env), []byte(`{"history_index":1}`+"\n"), ContentTypeJSON)
	return err == nil, nil
}
