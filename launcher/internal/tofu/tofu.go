// Package tofu runs OpenTofu (or Terraform) processes for the launcher, and
// builds their command lines.
//
// It exists because a process that may write the state must never be
// killed: OpenTofu truncates and rewrites a local state file in place, so a
// kill at the wrong instant leaves it empty, and a kill mid-apply forgets
// the resources it created since its last write. terraform-exec, which the
// launcher used before, kills a process its context outlived by one minute
// (WaitDelay) and has the kernel kill it when the parent dies (Pdeathsig).
// A process started here
//
//   - runs in a process group of its own, so a signal to the allocator's
//     group (a terminal's ^C, a process manager's kill of the group) does
//     not reach it;
//   - gets one interrupt (SIGINT) when its context is done, after which it
//     stops gracefully and writes its state, as OpenTofu documents; it is
//     never sent anything else, and Run waits for it as long as it takes;
//   - writes its stdout and stderr to files, never to a pipe: when the
//     allocator dies first, OpenTofu's next write to a pipe whose reader
//     is gone would kill it with SIGPIPE. Run reads the stdout file as it
//     grows, and removes both files once the process has exited and been
//     read, so files left behind tell a later process what a dead one
//     started (see Leftover).
//
// The command lines are the ones terraform-exec builds for the same
// options; args_test.go holds each of them.
package tofu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lablink-go/lablink/internal/atomicfile"
	"github.com/lablink-go/lablink/tfstate"
)

// Runner runs one OpenTofu binary in one working directory. Its zero value
// is not usable; set Path and Dir. A Runner is safe for concurrent use, but
// the launcher runs one process at a time in a directory.
type Runner struct {
	// Path is the OpenTofu or Terraform executable.
	Path string
	// Dir is the working directory (the module).
	Dir string
	// Env is the whole environment of the process; TF_IN_AUTOMATION and
	// CHECKPOINT_DISABLE are added.
	Env []string
	// RunDir holds the output files and the record of the running process.
	// Default Dir/.lablink/run.
	RunDir string
	// Poll is how often Run looks for more output once it has read all
	// there is. Default 10 ms.
	Poll time.Duration
	// OnFailure, when set, is told of every process that failed, before
	// Run returns.
	OnFailure func(*Error)
}

// lockLeftMessage is OpenTofu's (and Terraform's) diagnostic when it
// cannot release the state lock it holds.
const lockLeftMessage = "Error releasing the state lock"

// holds reports whether the run directory's file name holds s.
func (r *Runner) holds(name, s string) bool {
	b, err := os.ReadFile(filepath.Join(r.runDir(), name))
	return err == nil && bytes.Contains(b, []byte(s))
}

// Error is how a process failed: its exit error and the tail of its
// stderr. Interrupted reports that it was sent the interrupt.
type Error struct {
	Command     string // the subcommand, such as "apply"
	Err         error  // *exec.ExitError, or why it could not start
	Stderr      string // the last few KiB of stderr, trimmed
	Interrupted bool
	// Killed reports that a signal ended the process (not the interrupt
	// Run sent, which OpenTofu handles): it saved nothing more and
	// released no lock.
	Killed bool
	// LockLeft reports that OpenTofu said it could not release the state
	// lock it held (its backend did not answer).
	LockLeft bool
	// Start and End bound the process's life.
	Start, End time.Time
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Command, e.Err)
	if e.Interrupted {
		msg = fmt.Sprintf("%s: interrupted: %v", e.Command, e.Err)
	}
	if e.Stderr != "" {
		msg += "\n" + e.Stderr
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Process is the record of a running OpenTofu process, kept in the run
// directory while it runs so that a later allocator can find it.
type Process struct {
	Command string        `json:"command"`
	Args    []string      `json:"args"`
	Owner   tfstate.Owner `json:"owner"`
	// Parent is the process that started it.
	Parent tfstate.Owner `json:"parent"`
	// Stdout and Stderr are the files the process writes, relative to
	// the run directory.
	Stdout string    `json:"stdout"`
	Stderr string    `json:"stderr"`
	Start  time.Time `json:"start"`
	// Label is the caller's name for the run, such as a launch ID.
	Label string `json:"label,omitempty"`
}

func (r *Runner) runDir() string {
	if r.RunDir != "" {
		return r.RunDir
	}
	return filepath.Join(r.Dir, ".lablink", "run")
}

func (r *Runner) poll() time.Duration {
	if r.Poll > 0 {
		return r.Poll
	}
	return 10 * time.Millisecond
}

// Run runs OpenTofu with args (args[0] is the subcommand) and hands its
// stdout to read as it is written; read may return early, and the rest is
// skipped. label names the run in its process record. When ctx is done
// the process gets one SIGINT and Run goes on waiting for it to exit.
//
// Run returns the process's failure as an *Error (wrapping ctx.Err()
// too when it was interrupted), else read's error.
func (r *Runner) Run(ctx context.Context, label string, args []string, read func(io.Reader) error) error {
	p, cmd, err := r.start(label, args)
	if err != nil {
		return &Error{Command: args[0], Err: err}
	}
	exited := make(chan struct{})
	interrupted := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(os.Interrupt)
			close(interrupted)
		case <-exited:
		}
	}()
	readErr := make(chan error, 1)
	go func() {
		out, err := os.Open(filepath.Join(r.runDir(), p.Stdout))
		if err != nil {
			readErr <- err
			return
		}
		defer func() { _ = out.Close() }() // read only
		t := &tail{f: out, done: exited, poll: r.poll()}
		err = nil
		if read != nil {
			err = read(t)
		}
		_, _ = io.Copy(io.Discard, t)
		readErr <- err
	}()
	waitErr := cmd.Wait()
	end := time.Now().UTC()
	close(exited)
	rerr := <-readErr
	stderr := r.tailOf(p.Stderr)
	lockLeft := waitErr != nil && (r.holds(p.Stdout, lockLeftMessage) || strings.Contains(stderr, lockLeftMessage))
	r.cleanup(p)
	var sent bool
	select {
	case <-interrupted:
		sent = true
	default:
	}
	if waitErr != nil {
		e := &Error{Command: args[0], Err: waitErr, Stderr: stderr, Interrupted: sent,
			Killed: killed(waitErr), LockLeft: lockLeft, Start: p.Start, End: end}
		if r.OnFailure != nil {
			r.OnFailure(e)
		}
		if sent {
			return fmt.Errorf("%w (%w)", e, ctx.Err())
		}
		return e
	}
	if sent && ctx.Err() != nil && rerr == nil {
		// It finished anyway; what it did stands.
		return nil
	}
	return rerr
}

// start starts the process with its output going to files and records it.
func (r *Runner) start(label string, args []string) (Process, *exec.Cmd, error) {
	dir := r.runDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Process{}, nil, err
	}
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	p := Process{Command: args[0], Args: args, Label: label, Start: time.Now().UTC(), Parent: tfstate.Self(),
		Stdout: args[0] + "-" + stamp + ".out", Stderr: args[0] + "-" + stamp + ".err"}
	stdout, err := os.OpenFile(filepath.Join(dir, p.Stdout), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return Process{}, nil, err
	}
	defer func() { _ = stdout.Close() }() // the child holds its own copy
	stderr, err := os.OpenFile(filepath.Join(dir, p.Stderr), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return Process{}, nil, err
	}
	defer func() { _ = stderr.Close() }()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return Process{}, nil, err
	}
	defer func() { _ = devnull.Close() }()
	cmd := exec.Command(r.Path, args...)
	cmd.Dir = r.Dir
	cmd.Env = append(append([]string(nil), r.Env...), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, stdout, stderr
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = os.Remove(filepath.Join(dir, p.Stdout))
		_ = os.Remove(filepath.Join(dir, p.Stderr))
		return Process{}, nil, err
	}
	p.Owner = tfstate.OwnerOf(cmd.Process.Pid)
	if b, err := json.Marshal(p); err == nil {
		// Best effort: without the record a later process still finds
		// the output files, and tfstate.Busy finds the process.
		_ = atomicfile.Write(filepath.Join(dir, p.record()), b)
	}
	return p, cmd, nil
}

// cleanup removes the output files and the process record of p.
func (r *Runner) cleanup(p Process) {
	dir := r.runDir()
	_ = os.Remove(filepath.Join(dir, p.record()))
	_ = os.Remove(filepath.Join(dir, p.Stdout))
	_ = os.Remove(filepath.Join(dir, p.Stderr))
}

// tailOf is the end of the run directory's file name, trimmed.
func (r *Runner) tailOf(name string) string {
	b, err := os.ReadFile(filepath.Join(r.runDir(), name))
	if err != nil {
		return ""
	}
	const max = 8 << 10
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimSpace(string(b))
}

// Output runs OpenTofu with args and returns its whole stdout, for the
// short commands whose output is small (version, output, state pull).
func (r *Runner) Output(ctx context.Context, args []string) ([]byte, error) {
	var out []byte
	err := r.Run(ctx, "", args, func(rd io.Reader) (err error) {
		out, err = io.ReadAll(rd)
		return err
	})
	return out, err
}

// tail reads a file that another process is still writing: at the end of
// what is there it waits for more until done is closed, then reads what
// remains and reports io.EOF.
type tail struct {
	f    *os.File
	done <-chan struct{}
	poll time.Duration
	last bool
}

func (t *tail) Read(p []byte) (int, error) {
	for {
		n, err := t.f.Read(p)
		if n > 0 || !errors.Is(err, io.EOF) {
			return n, err
		}
		if t.last {
			return 0, io.EOF
		}
		select {
		case <-t.done:
			// The writer is gone: one more read finds what it wrote last.
			t.last = true
		case <-time.After(t.poll):
		}
	}
}

// record is the name of p's record in the run directory.
func (p Process) record() string { return strings.TrimSuffix(p.Stdout, ".out") + ".json" }

// Leftovers returns the records of the OpenTofu processes that a runner of
// this directory started in a process that is gone (the allocator died
// before it saw them exit). Such a process may still be running
// (!p.Owner.Gone()) or have ended since. Processes of a live allocator
// sharing the directory are not listed.
func (r *Runner) Leftovers() ([]Process, error) {
	names, err := filepath.Glob(filepath.Join(r.runDir(), "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Process
	for _, n := range names {
		b, err := os.ReadFile(n)
		if errors.Is(err, os.ErrNotExist) {
			continue // its process just ended
		}
		if err != nil {
			return nil, err
		}
		var p Process
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if p.Parent.Gone() {
			out = append(out, p)
		}
	}
	return out, nil
}

// OpenStdout opens the stdout file of a leftover process, for reading what
// it did.
func (r *Runner) OpenStdout(p *Process) (*os.File, error) {
	return os.Open(filepath.Join(r.runDir(), filepath.Base(p.Stdout)))
}

// Forget removes a leftover process's record and output files, once its
// process has ended and a caller has read what it needed.
func (r *Runner) Forget(p *Process) { r.cleanup(*p) }

// killed reports whether err is the exit of a process a signal ended.
func killed(err error) bool {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return false
	}
	ws, ok := exit.Sys().(interface{ Signaled() bool })
	return ok && ws.Signaled()
}
