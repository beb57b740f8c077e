package main

import (
	"context"
	"net/http"
)

// lifetimeKey marks the server's base context (http.Server.BaseContext),
// which is cancelled when shutdown begins.
type lifetimeKey struct{}

// withLifetime returns a context derived from ctx that is the server's
// lifetime, and the function that ends it (shutdown). Every request
// context derives from it, and launchContext finds it again through a
// value. The value is the cancellable context itself: marking ctx and
// cancelling a child of it would leave the marked lifetime uncancelled.
func withLifetime(ctx context.Context) (context.Context, context.CancelFunc) {
	life, cancel := context.WithCancel(ctx)
	return context.WithValue(life, lifetimeKey{}, life), cancel
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

// launchContext is the context a handler gives the launcher. It keeps the
// request's values but not its cancellation: a client that disconnects, or
// a reverse proxy that gives up after its read timeout (nginx: 60 s),
// must not interrupt an apply that others may be merged into and that
// leaves VMs half created; upstream's allocator, too, lets the apply run
// on. Shutdown, on the other hand, cancels it, so that OpenTofu receives
// its interrupt and releases the state lock before the process exits.
// Without a server lifetime (a handler driven directly by a test), it is
// the request's own context.
func launchContext(r *http.Request) (context.Context, context.CancelFunc) {
	life := lifetime(r)
	if life == nil {
		return context.WithCancel(r.Context())
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	stop := context.AfterFunc(life, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}
