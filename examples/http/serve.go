package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server timeouts. WriteTimeout is short, which suits healthz, errors and
// auth failures and the 202 of a queued launch; the handlers that wait
// for OpenTofu (launch and destroy with ?wait=1) move their own write
// deadline to serverOptions.ApplyWriteTimeout (1 h by default) with
// http.ResponseController, and an event stream moves it forward at each
// write. A server-wide
// WriteTimeout long enough for an apply would let every slow client hold a
// connection that long; none at all would let them hold it forever. When
// an apply outlives even the long deadline, the client loses the answer
// but the apply runs on (its context is the server's lifetime, see
// opContext) and its outcome is in the log and the audit trail.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second // bodies are at most 64 KiB
	writeTimeout      = time.Minute
	idleTimeout       = 2 * time.Minute
)

// newHTTPServer returns an http.Server for h with the timeouts above and
// log as its error log. serve sets its BaseContext.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serve runs srv on ln, over TLS when srv.TLSConfig holds a certificate,
// until ctx is done (main cancels it on SIGTERM or
// SIGINT), then shuts down in this order:
//
//  1. stop accepting connections (http.Server.Shutdown closes the
//     listener first);
//  2. cancel the server's base context, which cancels every in-flight
//     launch or destroy, so OpenTofu receives SIGINT, finishes the
//     resource operations under way, writes the state and releases its
//     lock, and the handlers answer 503;
//  3. wait for in-flight requests to finish, and then for the operations
//     that requests queued without waiting for them (202) to reach their
//     final state, all within drain; after that, connections are closed
//     by force;
//  4. shut the launcher down within what is left of drain. An OpenTofu
//     that is still running then is never killed: it runs in its own
//     process group, finishes its apply alone and saves the state, and
//     the next start waits for it (log says so).
//
// It returns nil after a shutdown triggered by ctx, or the error that
// stopped Serve.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, l shutdowner, drain time.Duration, log *slog.Logger) error {
	base, cancelBase := withLifetime(context.WithoutCancel(ctx))
	defer cancelBase()
	srv.BaseContext = func(net.Listener) context.Context { return base }
	// Shutdown runs this once it has closed the listeners: step 2.
	srv.RegisterOnShutdown(cancelBase)

	served := make(chan error, 1)
	scheme := "http"
	if srv.TLSConfig != nil {
		scheme = "https"
		go func() { served <- srv.ServeTLS(ln, "", "") }() // the certificate is in TLSConfig
	} else {
		go func() { served <- srv.Serve(ln) }()
	}
	log.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String())

	var err error
	sctx := context.Background()
	select {
	case err = <-served:
		// Serve failed on its own; nothing was shut down yet.
		cancelBase()
		_ = srv.Close()
	case <-ctx.Done():
		log.Info("shutting down: no new connections; interrupting in-flight launches", "drain", drain)
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(context.Background(), drain)
		defer cancel()
		if serr := srv.Shutdown(sctx); serr != nil {
			log.Error("shutdown: in-flight requests did not finish in time; closing their connections", "err", serr)
			_ = srv.Close()
		}
		if werr := waitBackground(sctx, base); werr != nil {
			log.Error("shutdown: interrupted operations did not finish in time", "err", werr)
		}
		if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
			err = serveErr
		}
	}
	if serr := l.Shutdown(sctx); serr != nil {
		if errors.Is(serr, context.DeadlineExceeded) {
			log.Error("shutdown: OpenTofu still runs; it is never killed: it finishes its apply alone and saves the state, "+
				"and the next start waits for it", "drain", drain)
		} else {
			err = errors.Join(err, serr)
		}
	}
	log.Info("server stopped")
	return err
}

// shutdowner is what serve needs of the launcher: *launcher.Launcher.
type shutdowner interface {
	Shutdown(ctx context.Context) error
}
