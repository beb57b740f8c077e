package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/lablink-go/lablink/audit"
)

// pollEvery is how often an event stream reads the store for an
// operation that this process does not run (another allocator sharing
// the audit store runs it).
const pollEvery = time.Second

// events is GET /api/operations/{id}/events, a Server-Sent Events stream
// of the operation for pages that would rather not poll: one "operation"
// event with the operation's JSON (as GET /api/operations/{id} answers it)
// at once and at each change, a ": ping" comment after each
// serverOptions.Heartbeat without one, and the end of the stream after
// the final state. A client that reconnects gets the current state first,
// so EventSource pages should close the stream on a final status rather
// than let the browser reconnect. An operation another process runs is
// followed through the store, once a second.
//
// The stream ends when the client goes away. At shutdown it goes on until
// the operation's final state, which shutdown's interrupt brings soon, so
// that the page learns that its operation was interrupted. The write
// deadline moves forward at each write: the server's WriteTimeout would
// cut any stream after a minute, and a stream has no end to wait for.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	id, ok := opID(w, r)
	if !ok {
		return
	}
	changes, cancel, err := s.l.Watch(r.Context(), id)
	if !s.opFound(w, r, id, err) {
		return
	}
	defer cancel()
	st := &eventStream{w: w, rc: http.NewResponseController(w), deadline: s.opts.Heartbeat + writeTimeout}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on as they come
	h.Set("X-Content-Type-Options", "nosniff")
	st.extend()
	w.WriteHeader(http.StatusOK)
	if st.flush() != nil {
		return
	}

	heartbeat := time.NewTicker(s.opts.Heartbeat)
	defer heartbeat.Stop()
	var poll <-chan time.Time // set when the store is followed instead
	gone := r.Context().Done()
	var last audit.Op
	for {
		var err error
		select {
		case op, ok := <-changes:
			if !ok {
				if !last.Status.Live() {
					return
				}
				// Not run here (or run here and final, but not yet
				// written when Watch looked): follow the store.
				changes = nil
				t := time.NewTicker(pollEvery)
				defer t.Stop()
				poll = t.C
				continue
			}
			last = op
			err = st.send(op)
		case <-poll:
			op, rerr := s.l.Op(r.Context(), id)
			if rerr != nil {
				s.log.WarnContext(r.Context(), "event stream: read operation", "job_id", id, "err", rerr)
				return
			}
			if op.UpdatedAt.Equal(last.UpdatedAt) && op.Status == last.Status {
				continue
			}
			last = op
			err = st.send(op)
			if err == nil && !op.Status.Live() {
				return
			}
		case <-heartbeat.C:
			err = st.ping()
		case <-gone:
			if !shuttingDown(r) {
				return // the client went away
			}
			// Shutdown cancels every request's context; a client that
			// goes away now shows as a failed write.
			gone = nil
			continue
		}
		if err != nil {
			if !errors.Is(err, http.ErrNotSupported) {
				s.log.DebugContext(r.Context(), "event stream ended", "job_id", id, "err", err)
			}
			return
		}
		heartbeat.Reset(s.opts.Heartbeat)
	}
}

// eventStream writes Server-Sent Events.
type eventStream struct {
	w  io.Writer
	rc *http.ResponseController
	// deadline is how long each write may wait for the next: a heartbeat
	// and the time of a write.
	deadline time.Duration
}

func (st *eventStream) send(op audit.Op) error {
	data, err := json.Marshal(opView(op)) // one line: JSON escapes newlines
	if err != nil {
		return err
	}
	st.extend()
	if _, err := fmt.Fprintf(st.w, "event: operation\ndata: %s\n\n", data); err != nil {
		return err
	}
	return st.flush()
}

func (st *eventStream) ping() error {
	st.extend()
	if _, err := io.WriteString(st.w, ": ping\n\n"); err != nil {
		return err
	}
	return st.flush()
}

// extend moves the write deadline past the next write. Writers that
// cannot (httptest.ResponseRecorder) are left alone.
func (st *eventStream) extend() {
	_ = st.rc.SetWriteDeadline(time.Now().Add(st.deadline))
}

func (st *eventStream) flush() error {
	return st.rc.Flush()
}
