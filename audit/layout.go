package audit

import (
	"context"
	"errors"
	"sync"
)

// layoutCheck remembers the environments whose objects a Trail or an
// OpStore has found in the current layout, marked by an object of their
// own, so that each is checked once. Safe for concurrent use.
type layoutCheck struct {
	mu   sync.Mutex
	done map[string]bool
}

// ensure returns at once for an environment already checked; else it reads
// marker and, when there is none, calls upgrade, which brings env's
// objects to the current layout and then writes the marker. An upgrade
// that fails is an error. One that could not write its marker (marked
// false) is not: the layout is current all the same, and the next call
// upgrades again (finding nothing left to do) rather than a reader failing
// for as long as the store refuses writes.
func (c *layoutCheck) ensure(ctx context.Context, store Store, env, marker string,
	upgrade func(ctx context.Context, env string) (marked bool, err error)) error {
	c.mu.Lock()
	done := c.done[env]
	c.mu.Unlock()
	if done {
		return nil
	}
	_, err := store.Get(ctx, marker)
	if errors.Is(err, ErrNotFound) {
		var marked bool
		if marked, err = upgrade(ctx, env); err == nil && !marked {
			return nil
		}
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = map[string]bool{}
	}
	c.done[env] = true
	return nil
}
