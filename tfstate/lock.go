package tfstate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// GetObjectAPIClient is the S3 operation ReadLock needs; *s3.Client
// satisfies it.
type GetObjectAPIClient interface {
	GetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Lock is OpenTofu's lock information, as its S3 lock object holds it.
type Lock struct {
	ID        string
	Operation string
	Info      string
	// Who is "user@host" of the OpenTofu process that took the lock.
	Who     string
	Version string
	Created time.Time
	Path    string
}

// ReadLock returns the lock object of the state, or nil when the state is
// not locked.
func ReadLock(ctx context.Context, c GetObjectAPIClient, s S3) (*Lock, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.LockKey())})
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lock s3://%s/%s: %w", s.Bucket, s.LockKey(), err)
	}
	data, err := io.ReadAll(io.LimitReader(out.Body, 1<<20))
	// A failed close of a body read to its end says the lock may be cut.
	err = errors.Join(err, out.Body.Close())
	if err != nil {
		return nil, fmt.Errorf("read lock s3://%s/%s: %w", s.Bucket, s.LockKey(), err)
	}
	var l Lock
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("lock s3://%s/%s: %w", s.Bucket, s.LockKey(), err)
	}
	return &l, nil
}

// Owner identifies a process precisely enough to prove later that it is
// gone: its host, the boot of that host, its pid and the time it started
// (a pid is reused; pid and start time together are not, within a boot).
type Owner struct {
	Host   string `json:"host"`
	User   string `json:"user"`
	BootID string `json:"boot_id"`
	PID    int    `json:"pid"`
	// Start is the process start time in clock ticks since boot.
	Start uint64 `json:"start"`
}

// Self is the Owner record of the calling process. Fields the system does
// not tell (no /proc) stay empty, and Gone then proves nothing.
func Self() Owner { return OwnerOf(os.Getpid()) }

// OwnerOf is the Owner record of the running process pid, on this host.
func OwnerOf(pid int) Owner {
	o := Owner{PID: pid}
	o.Host, _ = os.Hostname()
	// As OpenTofu names the lock's owner.
	if u, err := user.Current(); err == nil {
		o.User = u.Username
	}
	o.BootID = bootID()
	o.Start, _ = startTicks(pid)
	return o
}

// Who is how OpenTofu names the owner in a lock: "user@host".
func (o Owner) Who() string { return o.User + "@" + o.Host }

// Gone reports whether the process o is provably not running: o is of
// this host and this boot, and no running process has o's pid and start
// time. Anything that cannot be proven (another host or boot, no /proc)
// is not gone.
func (o Owner) Gone() bool {
	if o.BootID == "" || o.PID <= 0 || o.BootID != bootID() {
		return false
	}
	if h, _ := os.Hostname(); h != o.Host {
		return false
	}
	start, err := startTicks(o.PID)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	return err == nil && start != o.Start
}

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// startTicks reads field 22 of /proc/PID/stat, the process start time.
func startTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after it start past its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	const field = 22 - 3 // fields 3.. follow the name
	if len(f) <= field {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(f[field], 10, 64)
}

// Busy reports whether a running process other than the caller has dir as
// its working directory: an OpenTofu that outlived the allocator that
// started it still holds its lock legitimately. Without /proc it reports
// true: nothing is proven.
func Busy(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return true
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil || e.Name() == self {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && cwd == abs {
			return true
		}
	}
	return false
}

// Orphaned reports whether lock is provably held by nobody: it was taken
// on this host by this user (its Who is this process's), and no process of
// this host runs binary (compared by the executable's path) or an
// executable whose name holds "tofu" or "terraform" (a wrapper script
// execs the real binary, which is then the process's executable). A lock is held only by a running
// OpenTofu, so one whose holder would have to run here and does not is
// left over from a process that was killed (or could not reach the
// backend to release it). Anything unproven (another host, no /proc) is
// not orphaned. Force-unlocking by the lock's ID is then safe even if an
// OpenTofu takes a new lock meanwhile: that lock has another ID.
func Orphaned(lock *Lock, binary string) bool {
	if lock == nil || lock.Who != Self().Who() {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	want, _ := filepath.EvalSymlinks(binary)
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil {
			continue
		}
		exe = strings.TrimSuffix(exe, " (deleted)")
		if base := filepath.Base(exe); exe == want || strings.Contains(base, "tofu") || strings.Contains(base, "terraform") {
			return false
		}
	}
	return true
}
