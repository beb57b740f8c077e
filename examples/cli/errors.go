package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/allocurl"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfstate"
	"github.com/lablink-go/lablink/tfvars"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitInvalid = 2
)

// exitError carries an exit status. A nil err means the command has
// already said everything, its JSON document included.
type exitError struct {
	code int
	err  error
	// said reports that err is on stderr already (the flag package printed
	// it): only a JSON document remains to be written.
	said bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// invalid marks err as invalid input (exit 2).
func invalid(err error) error { return &exitError{code: exitInvalid, err: err} }

// silent is an exit status whose explanation is already printed.
func silent(code int) error { return &exitError{code: code} }

// inputError is a problem with one input as the user gave it: a flag
// ("--count"), an environment variable ("ALLOCATOR_PUBLIC_IP"), a
// positional argument. Its message names the input and says what to do.
type inputError struct {
	field string
	msg   string
}

func (e *inputError) Error() string { return e.msg }

// badInput is invalid input (exit 2) about field; the message, formatted
// from format and a, names the field itself.
func badInput(field, format string, a ...any) error {
	return invalid(&inputError{field: field, msg: fmt.Sprintf(format, a...)})
}

// codeOf is the exit status err stands for: 0 for nil, the status an
// *exitError carries, else 1.
func codeOf(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	}
	return exitFailure
}

// problem is one thing wrong, as the error document lists it.
type problem struct {
	Message string `json:"message"`
	// Field names the input: a flag (--count), an environment variable
	// (ALLOCATOR_PUBLIC_IP), a config key (ssl.email), a module variable.
	Field string `json:"field,omitempty"`
	File  string `json:"file,omitempty"`
	Line  int    `json:"line,omitempty"`
}

// leaves flattens err into its problems: the errors joined in it (by
// errors.Join, through any wrapping above the join, whose words the
// problems repeat), each kept whole. An error with two %w of fmt.Errorf
// is one problem; so is launcher.ErrInvalidInput, the condition an
// *InputError adds to its problems.
func leaves(err error) []error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if typed(e) {
			break
		}
		if ie, ok := e.(*launcher.InputError); ok {
			return leaves(ie.Err)
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok && isJoin(e, j.Unwrap()) {
			var out []error
			for _, x := range j.Unwrap() {
				out = append(out, leaves(x)...)
			}
			return out
		}
	}
	return []error{err}
}

// isJoin reports whether e reads as errors.Join of errs: their messages a
// line each.
func isJoin(e error, errs []error) bool {
	msgs := make([]string, len(errs))
	for i, x := range errs {
		msgs[i] = x.Error()
	}
	return e.Error() == strings.Join(msgs, "\n")
}

// typed reports whether e is one of the error types that name their input.
func typed(e error) bool {
	switch e.(type) {
	case *inputError, *lablink.FieldError, *lablink.SyntaxError, *tfvars.VariableError,
		*allocurl.InputError, *tfstate.IntegrityError, *interruptedError, *hinted:
		return true
	}
	return false
}

// problemOf describes one problem of command cmd: its message without
// cmd's own prefix (the launcher prefixes "launch: ", and the CLI says it
// once), and the input, file and line its type names.
func problemOf(cmd string, e error) problem {
	p := problem{Message: trimCommand(cmd, e.Error())}
	var (
		ie *inputError
		fe *lablink.FieldError
		se *lablink.SyntaxError
		ae *allocurl.InputError
		ve *tfvars.VariableError
		ig *tfstate.IntegrityError
	)
	switch {
	case errors.As(e, &ie):
		p.Field = ie.field
	case errors.As(e, &fe):
		p.Field, p.File, p.Line = fe.Path, fe.File, fe.Line
	case errors.As(e, &se):
		p.File, p.Line = se.File, se.Line
	case errors.As(e, &ae):
		p.Field = ae.Input
	case errors.As(e, &ve):
		p.Field = ve.Name
	case errors.As(e, &ig):
		p.File = ig.File
	}
	return p
}

// trimCommand removes every leading "cmd: " from msg.
func trimCommand(cmd, msg string) string {
	for strings.HasPrefix(msg, cmd+": ") {
		msg = msg[len(cmd)+2:]
	}
	return msg
}

// problems lists the problems of err.
func problems(cmd string, err error) []problem {
	var ps []problem
	for _, e := range leaves(err) {
		ps = append(ps, problemOf(cmd, e))
	}
	return ps
}

// errorBody is the "error" member of a JSON document.
type errorBody struct {
	// Message is the whole text, one problem a line, as stderr shows it
	// without the command's prefix.
	Message string `json:"message"`
	// Field, File and Line name the input of a single problem.
	Field string `json:"field,omitempty"`
	File  string `json:"file,omitempty"`
	Line  int    `json:"line,omitempty"`
	// Problems lists each problem when there are several.
	Problems []problem `json:"problems,omitempty"`
	// Interrupted reports a launch or destroy stopped by a signal; the
	// counts say what its apply did, when the launcher said.
	Interrupted bool `json:"interrupted,omitempty"`
	Created     *int `json:"created,omitempty"`
	Planned     *int `json:"planned,omitempty"`
	StateVMs    *int `json:"state_vms,omitempty"`
}

// newErrorBody describes err of command cmd.
func newErrorBody(cmd string, err error) *errorBody {
	ps := problems(cmd, err)
	var msgs []string
	for _, p := range ps {
		msgs = append(msgs, p.Message)
	}
	b := &errorBody{Message: strings.Join(msgs, "\n")}
	if len(ps) == 1 {
		b.Field, b.File, b.Line = ps[0].Field, ps[0].File, ps[0].Line
	} else {
		b.Problems = ps
	}
	var ie *interruptedError
	if errors.As(err, &ie) {
		b.Interrupted = true
		if ie.known {
			b.Created, b.Planned, b.StateVMs = &ie.created, &ie.planned, &ie.inState
		}
	}
	return b
}

// interruptedError is a launch or destroy that a signal stopped.
type interruptedError struct {
	action string
	// headline is what the launcher said of the apply, without
	// OpenTofu's own output.
	headline string
	// hint says where to look next.
	hint                      string
	known                     bool // the counts below are the launcher's
	created, planned, inState int
	err                       error
}

func (e *interruptedError) Error() string {
	msg := "interrupted: " + e.headline
	if e.hint != "" {
		msg += "; " + e.hint
	}
	return msg
}

func (e *interruptedError) Unwrap() error { return e.err }

// sayInterrupt says on stderr, when ctx ends (a signal), that the
// command waits for OpenTofu; call the function it returns when done.
func (c *cli) sayInterrupt(ctx context.Context, cmd string) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		fmt.Fprintf(c.stderr, "%s: interrupted; waiting for OpenTofu, if it runs, to stop and save the state (it gets one interrupt and is never killed)\n", cmd)
	})
}

// interrupted describes err, the error of an action that a signal
// stopped: what its apply did, if it began (a *launcher.ApplyError), and
// the counts in it.
func interrupted(action string, err error) *interruptedError {
	ie := &interruptedError{action: action, err: err, headline: "stopped before its apply began; nothing was changed"}
	var ae *launcher.ApplyError
	if errors.As(err, &ae) {
		msg := ae.Error()
		if ae.Err != nil {
			msg = strings.TrimSuffix(msg, ": "+ae.Err.Error())
		}
		ie.headline = trimCommand(action, msg)
		ie.known = true
		ie.created, ie.planned, ie.inState = ae.Created, ae.Planned, max(ae.InState, 0)
	}
	return ie
}

// hinted adds what to do next to an error.
type hinted struct {
	err  error
	hint string
}

func (e *hinted) Error() string { return e.err.Error() + "; " + e.hint }

func (e *hinted) Unwrap() error { return e.err }

// restoreHint names restore-state on an error of a refused local state.
func restoreHint(err error, workdir string) error {
	var ig *tfstate.IntegrityError
	if !errors.As(err, &ig) {
		return err
	}
	return &hinted{err: err, hint: fmt.Sprintf("run %s restore-state --workdir %s", progName, workdir)}
}
