package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/launcher"
)

// errShuttingDown: the server is shutting down and queues nothing more.
var errShuttingDown = errors.New("server is shutting down")

// start queues req for the client of r: under the server's lifetime, not
// the request's (opContext), followed until it ends so that its outcome
// is logged and shutdown waits for it. The API and the console's forms
// both start operations through it.
func (s *server) start(r *http.Request, req launcher.Request) (audit.Op, error) {
	if shuttingDown(r) {
		return audit.Op{}, errShuttingDown
	}
	op, err := s.l.Start(opContext(r), req)
	if err != nil {
		return op, err
	}
	name := opName(op.Action)
	s.log.InfoContext(r.Context(), name+" queued", "actor", req.Actor, "num_vms", req.Count, "job_id", op.ID)
	s.follow(r, op)
	return op, nil
}

// launch is POST /api/launch. It queues a launch and answers at once, as
// upstream does: 202 with the job id to JSON clients, a redirect to the
// operation's page otherwise (see accepted). Where upstream answers 409
// while another operation is queued or running, the launcher merges the
// request into the next apply. With ?wait=1 it answers when the launch is
// done, with its result (answerWhenDone).
func (s *server) launch(w http.ResponseWriter, r *http.Request) {
	n, status, msg := s.numVMs(w, r)
	if status != 0 {
		writeError(w, status, msg)
		return
	}
	wait, ok := waitParam(r)
	if !ok {
		writeError(w, http.StatusBadRequest, msgBadWait)
		return
	}
	s.queue(w, r, launcher.Request{Count: n, Actor: actorOf(r)}, wait)
}

// destroy is POST /api/destroy, queued and answered as launch is. With
// neither the runtime tfvars of an earlier launch nor a VM in the state
// (which another allocator on a shared state may have launched) it
// answers the 404 of upstream's synchronous destroy at once: the launcher
// finds that only once the destroy runs (ErrNothingLaunched; today's
// upstream fails the operation then), when the client has its 202. A
// first launch still queued or running has not written the file yet, so
// a destroy sent behind it is refused.
func (s *server) destroy(w http.ResponseWriter, r *http.Request) {
	if status, msg := s.emptyBody(w, r); status != 0 {
		writeError(w, status, msg)
		return
	}
	wait, ok := waitParam(r)
	if !ok {
		writeError(w, http.StatusBadRequest, msgBadWait)
		return
	}
	st, err := s.l.Status(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "status failed", "err", err)
		writeError(w, http.StatusInternalServerError, "reading the state failed; see the server log")
		return
	}
	if nothingToDestroy(st) {
		writeError(w, http.StatusNotFound, launcher.ErrNothingLaunched.Error())
		return
	}
	s.queue(w, r, launcher.Request{Destroy: true, Actor: actorOf(r)}, wait)
}

// queue starts req for an API client and answers: at once (accepted), or
// with wait once the operation is done (answerWhenDone).
func (s *server) queue(w http.ResponseWriter, r *http.Request, req launcher.Request, wait bool) {
	op, err := s.start(r, req)
	switch {
	case err != nil && req.Destroy:
		s.startError(w, r, "destroy", err)
	case err != nil:
		s.startError(w, r, "launch", err)
	case wait:
		s.answerWhenDone(w, r, op, req.Count)
	default:
		accepted(w, r, op)
	}
}

// nothingToDestroy reports a working directory that launched nothing,
// on a state that holds no VM: a destroy would fail (ErrNothingLaunched).
func nothingToDestroy(st launcher.Status) bool { return !st.TFVars && len(st.VMs) == 0 }

// startError answers an operation the launcher would not queue. Only
// errors whose text is ours or the launcher's reach the client.
func (s *server) startError(w http.ResponseWriter, r *http.Request, name string, err error) {
	switch {
	case errors.Is(err, launcher.ErrInvalidCount):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, errShuttingDown), errors.Is(err, launcher.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "server is shutting down; "+name+" not queued")
	default:
		s.log.ErrorContext(r.Context(), name+" not queued", "err", err)
		writeError(w, http.StatusInternalServerError, name+" failed; see the server log")
	}
}

// answerWhenDone is ?wait=1 of launch and destroy: the operation as one
// request, for scripts that would rather not poll. It answers with the
// result of the apply that carried op, or the operation's error. A client
// that goes away stops the waiting, not the operation; shutdown
// interrupts the operation, and the answer says so.
func (s *server) answerWhenDone(w http.ResponseWriter, r *http.Request, op audit.Op, n int) {
	s.extendWriteDeadline(w, r)
	// Shutdown cancels every request, and interrupts the operation: wait
	// for that to show, to say so. A client that goes away ends the wait.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	stop := context.AfterFunc(r.Context(), func() {
		if !shuttingDown(r) {
			cancel()
		}
	})
	defer stop()
	final, err := launcher.Wait(ctx, s.l, op.ID)
	if err != nil {
		// The client went away, or the store failed; either way the
		// operation goes on, and its outcome is logged (follow).
		s.log.WarnContext(r.Context(), "stopped waiting for the operation", "job_id", op.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "stopped waiting; follow /api/operations/"+itoa(op.ID))
		return
	}
	name := opName(final.Action)
	switch final.Status {
	case audit.StatusSucceeded:
	case audit.StatusInterrupted:
		writeJSON(w, http.StatusServiceUnavailable, errorJSON{"server is shutting down; " + name + " interrupted", final.LaunchID})
		return
	default:
		writeJSON(w, failureStatus(final), errorJSON{publicError(final), final.LaunchID})
		return
	}
	if final.Action == audit.Destroy {
		writeJSON(w, http.StatusOK, s.destroyResult(r.Context(), final))
		return
	}
	writeJSON(w, http.StatusOK, s.launchResult(r.Context(), final, n))
}

// failureStatus is the HTTP status of a failed operation: 409 for a plan
// the guard refused, 404 for a destroy with nothing launched, 500 else.
func failureStatus(op audit.Op) int {
	switch msg := publicError(op); {
	case isRefused(msg):
		return http.StatusConflict
	case msg == launcher.ErrNothingLaunched.Error():
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// extendWriteDeadline gives a handler that waits for OpenTofu the long
// write deadline. Writers that cannot (httptest.ResponseRecorder) are left
// alone.
func (s *server) extendWriteDeadline(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Now().Add(s.opts.ApplyWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.WarnContext(r.Context(), "cannot extend write deadline", "err", err)
	}
}

// actorOf is the admin who sent r, as authentication found it.
func actorOf(r *http.Request) string {
	if a, ok := r.Context().Value(actorKey{}).(string); ok {
		return a
	}
	return ""
}

type actorKey struct{}

func withActor(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, actorKey{}, user)
}
