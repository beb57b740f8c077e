package main

import (
	"context"
	"net/http"
	"sync"
)

// lifetimeKey marks the server's base context (http.Server.BaseContext),
// which is cancelled when shutdown begins; backgroundKey holds its
// background work.
type (
	lifetimeKey   struct{}
	backgroundKey struct{}
)

// withLifetime returns a context derived from ctx that is the server's
// lifetime, and the function that ends it (shutdown). Every request
// context derives from it, and opContext finds it again through a
// value. The value is the cancellable context itself: marking
// ctx and cancelling a child of it would leave the marked lifetime
// uncancelled. The context also carries the server's background work
// (see waitBackground).
func withLifetime(ctx context.Context) (context.Context, context.CancelFunc) {
	life, cancel := context.WithCancel(ctx)
	base := context.WithValue(life, lifetimeKey{}, life)
	return context.WithValue(base, backgroundKey{}, &background{}), cancel
}

func lifetime(r *http.Request) context.Context {
	ctx, _ := r.Context().Value(lifetimeKey{}).(context.Context)
	return ctx
}

// shuttingDown reports whether the server that received r is shutting
// down.
func shuttingDown(r *http.Request) bool {
	life := lifetime(r)
	return life != nil && life.Err() != nil
}

// opContext is the context of an operation a request queues and does not
// wait for (launcher.Start): the server's lifetime, so that the operation
// outlives the request that asked for it and shutdown interrupts it (the
// launcher records it as interrupted). Without a server lifetime (a
// handler driven directly by a test) it is the request's context without
// its cancellation.
func opContext(r *http.Request) context.Context {
	if life := lifetime(r); life != nil {
		return life
	}
	return context.WithoutCancel(r.Context())
}

// background counts the work that requests leave running after their
// answer: the operations they queued, until each is final. Shutdown waits
// for it, as it waits for the requests themselves. A nil *background
// counts nothing. It is safe for concurrent use.
type background struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

// backgroundOf returns the background work of the server ctx belongs to,
// nil without a server lifetime.
func backgroundOf(ctx context.Context) *background {
	b, _ := ctx.Value(backgroundKey{}).(*background)
	return b
}

func (b *background) add() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == 0 {
		b.idle = make(chan struct{})
	}
	b.n++
}

func (b *background) done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n--
	if b.n == 0 {
		close(b.idle)
	}
}

// waitBackground waits until the background work of the server whose
// base context is base is done, or ctx is; it returns ctx's error then.
func waitBackground(ctx, base context.Context) error {
	b := backgroundOf(base)
	if b == nil {
		return nil
	}
	for {
		b.mu.Lock()
		n, idle := b.n, b.idle
		b.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
