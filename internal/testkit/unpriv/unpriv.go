// Package unpriv runs the part of a test that must meet a permission error
// as an unprivileged user. Root ignores file modes, and CI runs the tests
// as root, so a test that makes a directory read-only proves nothing
// there unless the write comes from another user: [Run] starts the test
// again in a child process, as user and group [ID] when the test runs as
// root, and the child does only the unprivileged part and hands its
// result back with [Reply].
//
// A test using it looks like this:
//
//	func TestX(t *testing.T) {
//		if unpriv.Child(t) {
//			err := doWrite(unpriv.Arg())
//			unpriv.Reply(t, unpriv.ErrorOf(err))
//			return
//		}
//		dir := unpriv.Dir(t) // reachable by the child's user
//		... make dir/ro read-only ...
//		var got unpriv.Error
//		unpriv.Run(t, filepath.Join(dir, "ro", "f"), &got)
//		... check got and what the child left behind ...
//	}
package unpriv

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ID is the user and group ID the child runs as when the test runs as
// root: nobody and nogroup on most Linux distributions.
const ID = 65534

// Environment of the child: the name of the test it is the child of, and
// Run's arg.
const (
	childEnv = "LABLINK_UNPRIV_TEST"
	argEnv   = "LABLINK_UNPRIV_ARG"
)

// replyPrefix starts the stdout line that carries the child's reply.
const replyPrefix = "lablink-unpriv-reply: "

// Child reports whether this process is the child Run started for t. The
// child does the unprivileged part of the test, calls Reply once and
// returns.
func Child(t testing.TB) bool { return os.Getenv(childEnv) == t.Name() }

// Arg is the arg Run passed to the child; "" outside a child.
func Arg() string { return os.Getenv(argEnv) }

// Reply hands v, encoded as JSON, back to Run in the parent. Call it only
// in the child, once.
func Reply(t testing.TB, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("unpriv: reply: %v", err)
	}
	// A line of its own, whatever the test printed before.
	if _, err := os.Stdout.WriteString("\n" + replyPrefix + string(b) + "\n"); err != nil {
		t.Fatalf("unpriv: reply: %v", err)
	}
}

// Error is a reply describing an error: its text ("" for none) and
// whether it matches fs.ErrPermission.
type Error struct {
	Err        string
	Permission bool
}

// ErrorOf describes err for Reply.
func ErrorOf(err error) Error {
	if err == nil {
		return Error{}
	}
	return Error{Err: err.Error(), Permission: errors.Is(err, fs.ErrPermission)}
}

// Dir returns a new directory that the child's user can reach and read
// but not write (mode 0755, owned by the test's user; t.TempDir's
// directories are 0700). It is removed at the end of the test.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lablink-unpriv-")
	if err != nil {
		t.Fatalf("unpriv: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("unpriv: %v", err)
	}
	return dir
}

// Run runs the test t again in a child process and decodes the child's
// Reply into reply. The child runs a copy of the test binary, placed in a
// directory of Dir, which is also its working directory; only t is
// selected (-test.run), arg reaches it as Arg, and when this process is
// root it runs as user and group ID with no supplementary groups
// (otherwise as this user, for whom file modes hold anyway). The test
// fails when the child cannot start, fails, or ends without exactly one
// reply.
func Run(t *testing.T, arg string, reply any) {
	t.Helper()
	bin := copyBinary(t)
	cmd := exec.Command(bin, "-test.run="+runPattern(t.Name()), "-test.count=1")
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name(), argEnv+"="+arg)
	cmd.SysProcAttr = sysProcAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unpriv: child %s as %s: %v\n%s", t.Name(), who(), err, out)
	}
	var replies []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if r, ok := strings.CutPrefix(sc.Text(), replyPrefix); ok {
			replies = append(replies, r)
		}
	}
	if len(replies) != 1 {
		t.Fatalf("unpriv: child %s gave %d replies, want 1 (did the test call Child and Reply?):\n%s", t.Name(), len(replies), out)
	}
	if err := json.Unmarshal([]byte(replies[0]), reply); err != nil {
		t.Fatalf("unpriv: child %s: reply %s: %v", t.Name(), replies[0], err)
	}
}

// copyBinary copies the running test binary into a Dir, mode 0755: the
// child's user may not reach the build directory go test runs it from.
func copyBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("unpriv: %v", err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatalf("unpriv: %v", err)
	}
	defer src.Close()
	bin := filepath.Join(Dir(t), filepath.Base(self))
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatalf("unpriv: %v", err)
	}
	_, err = io.Copy(dst, src)
	if err = errors.Join(err, dst.Close()); err != nil {
		t.Fatalf("unpriv: copy test binary: %v", err)
	}
	return bin
}

// runPattern is the -test.run pattern that selects exactly the test or
// subtest named name.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}
