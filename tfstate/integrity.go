package tfstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lablink-go/lablink/internal/atomicfile"
)

// LocalFile is the name of OpenTofu's local state file in a working
// directory.
const LocalFile = "terraform.tfstate"

// Conditions of a local state file that Check refuses.
var (
	// ErrEmpty: the state file has no bytes.
	ErrEmpty = errors.New("the state file is empty")
	// ErrCorrupt: the state file is not a state OpenTofu wrote whole.
	ErrCorrupt = errors.New("the state file is not a whole OpenTofu state")
	// ErrOlder: the state's serial is below that of its last good copy.
	ErrOlder = errors.New("the state is older than its last good copy")
	// ErrLineage: the state belongs to another lineage than its last
	// good copy.
	ErrLineage = errors.New("the state has another lineage than its last good copy")
	// ErrMissing: the state file is gone while its last good copy holds
	// resources.
	ErrMissing = errors.New("the state file is missing")
)

// Info is what the integrity checks read of a state: its identity and its
// resource instances.
type Info struct {
	Version int
	Serial  uint64
	Lineage string
	// Instances lists the address of every managed resource instance.
	Instances []string
}

// ParseInfo reads the identity and instances of state data. An empty or
// truncated file is an error matching ErrEmpty or ErrCorrupt.
func ParseInfo(data []byte) (Info, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Info{}, ErrEmpty
	}
	var raw struct {
		Version   int     `json:"version"`
		Serial    *uint64 `json:"serial"`
		Lineage   string  `json:"lineage"`
		Resources []struct {
			Module    string `json:"module"`
			Mode      string `json:"mode"`
			Type      string `json:"type"`
			Name      string `json:"name"`
			Instances []struct {
				IndexKey any `json:"index_key"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Info{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if raw.Version < 3 || raw.Serial == nil || raw.Lineage == "" {
		return Info{}, fmt.Errorf("%w: no version, serial or lineage", ErrCorrupt)
	}
	info := Info{Version: raw.Version, Serial: *raw.Serial, Lineage: raw.Lineage}
	for _, r := range raw.Resources {
		if r.Mode != "managed" {
			continue
		}
		base := r.Type + "." + r.Name
		if r.Module != "" {
			base = r.Module + "." + base
		}
		for _, in := range r.Instances {
			switch k := in.IndexKey.(type) {
			case nil:
				info.Instances = append(info.Instances, base)
			case float64:
				info.Instances = append(info.Instances, fmt.Sprintf("%s[%d]", base, int64(k)))
			default:
				info.Instances = append(info.Instances, fmt.Sprintf("%s[%q]", base, fmt.Sprint(k)))
			}
		}
	}
	return info, nil
}

// Copy is a good copy of a working directory's local state, kept before
// each apply.
type Copy struct {
	// Path is the copy's file.
	Path string
	Info Info
	// Taken is when the copy was made.
	Taken time.Time
}

// copiesDir is where a working directory keeps its state copies.
func copiesDir(dir string) string { return filepath.Join(dir, ".lablink", "state-copies") }

// keepCopies is how many copies Keep leaves.
const keepCopies = 20

// Keep copies the local state of dir, when it is a whole state, into the
// directory's copies (mode 0600), and removes the oldest beyond the newest
// 20. It returns the copy, nil when there is no state to keep (none yet,
// or an empty file), or the reason the state cannot be kept.
func Keep(dir string, now time.Time) (*Copy, error) {
	data, err := os.ReadFile(filepath.Join(dir, LocalFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	info, err := ParseInfo(data)
	if errors.Is(err, ErrEmpty) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keep a copy of %s: %w", filepath.Join(dir, LocalFile), err)
	}
	cd := copiesDir(dir)
	if err := os.MkdirAll(cd, 0o700); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s-serial%d-%s.tfstate", now.UTC().Format("20060102T150405.000000000Z"), info.Serial, shortLineage(info.Lineage))
	p := filepath.Join(cd, name)
	if err := atomicfile.Write(p, data); err != nil {
		return nil, err
	}
	if err := prune(dir, keepCopies); err != nil {
		return nil, err
	}
	return &Copy{Path: p, Info: info, Taken: now.UTC()}, nil
}

func shortLineage(l string) string {
	if len(l) > 8 {
		l = l[:8]
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, l)
}

// Copies lists the copies of dir's state, newest first; copies that do not
// parse are left out. It reads every copy: Newest reads only what it must.
func Copies(dir string) ([]Copy, error) {
	return copies(dir, 0)
}

// Newest is the newest copy of dir's state that parses, nil when there is
// none. It reads the copies from the newest and stops at the first good
// one.
func Newest(dir string) (*Copy, error) {
	cs, err := copies(dir, 1)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	return &cs[0], nil
}

// copies lists up to limit good copies (all when limit < 1), newest
// first, reading only those: the names sort by the time they were taken.
func copies(dir string, limit int) ([]Copy, error) {
	entries, err := os.ReadDir(copiesDir(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type named struct {
		name  string
		taken time.Time
	}
	var names []named
	for _, e := range entries {
		stamp, _, ok := strings.Cut(e.Name(), "-serial")
		if !ok || !strings.HasSuffix(e.Name(), ".tfstate") {
			continue
		}
		taken, err := time.Parse("20060102T150405.000000000Z", stamp)
		if err != nil {
			continue
		}
		names = append(names, named{e.Name(), taken})
	}
	slices.SortFunc(names, func(a, b named) int { return b.taken.Compare(a.taken) })
	var out []Copy
	for _, n := range names {
		if limit > 0 && len(out) == limit {
			break
		}
		p := filepath.Join(copiesDir(dir), n.name)
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		info, err := ParseInfo(data)
		if err != nil {
			continue
		}
		out = append(out, Copy{Path: p, Info: info, Taken: n.taken})
	}
	return out, nil
}

// prune removes the copies of dir beyond the newest keep, reading none.
func prune(dir string, keep int) error {
	entries, err := os.ReadDir(copiesDir(dir))
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if _, _, ok := strings.Cut(e.Name(), "-serial"); ok && strings.HasSuffix(e.Name(), ".tfstate") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names) // by the time taken: the names start with it
	for _, n := range names[:max(len(names)-keep, 0)] {
		_ = os.Remove(filepath.Join(copiesDir(dir), n))
	}
	return nil
}

// IntegrityError is a local state that must not be planned from: planning
// from an empty or stale state would create, from zero, VMs that already
// run. It names the file and the copy to restore.
type IntegrityError struct {
	File string
	// Copy is the newest good copy, nil when there is none.
	Copy *Copy
	Err  error
}

func (e *IntegrityError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.File, e.Err)
	if e.Copy != nil {
		msg += fmt.Sprintf("; its last good copy %s holds serial %d with %d resources: restore it (cli: restore-state) after checking what differs",
			e.Copy.Path, e.Copy.Info.Serial, len(e.Copy.Info.Instances))
	}
	return msg
}

func (e *IntegrityError) Unwrap() error { return e.Err }

// Check refuses the local state of dir when it is empty, truncated or
// otherwise unparseable, missing, older than its newest good copy
// (serial) or of another lineage, returning an *IntegrityError. An empty
// or missing state is accepted when no copy holds resources: OpenTofu
// leaves an empty file in a directory it locked before it created
// anything. Call it when no OpenTofu runs in dir.
func Check(dir string) error {
	path := filepath.Join(dir, LocalFile)
	last, err := Newest(dir)
	if err != nil {
		return err
	}
	held := last != nil && len(last.Info.Instances) > 0
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if held {
			return &IntegrityError{File: path, Copy: last, Err: ErrMissing}
		}
		return nil
	case err != nil:
		return err
	}
	info, err := ParseInfo(data)
	switch {
	case errors.Is(err, ErrEmpty):
		if held {
			return &IntegrityError{File: path, Copy: last, Err: err}
		}
		return nil
	case err != nil:
		return &IntegrityError{File: path, Copy: last, Err: err}
	case last == nil:
		return nil
	case info.Lineage != last.Info.Lineage:
		return &IntegrityError{File: path, Copy: last,
			Err: fmt.Errorf("%w (%s, the copy %s)", ErrLineage, info.Lineage, last.Info.Lineage)}
	case info.Serial < last.Info.Serial:
		return &IntegrityError{File: path, Copy: last,
			Err: fmt.Errorf("%w (serial %d, the copy %d)", ErrOlder, info.Serial, last.Info.Serial)}
	}
	return nil
}

// Difference says what restoring a copy would change.
type Difference struct {
	// Current describes the state file as it is: its serial, or why it
	// cannot be read.
	Current string
	// Restored is the copy's serial and lineage.
	Restored string
	// Added are instances the copy holds and the state file does not;
	// Removed the other way round.
	Added, Removed []string
}

// Diff compares the local state of dir with the copy c.
func Diff(dir string, c Copy) Difference {
	d := Difference{Restored: fmt.Sprintf("serial %d, lineage %s, %d resources", c.Info.Serial, c.Info.Lineage, len(c.Info.Instances))}
	data, err := os.ReadFile(filepath.Join(dir, LocalFile))
	var cur Info
	switch {
	case err != nil:
		d.Current = err.Error()
	default:
		if cur, err = ParseInfo(data); err != nil {
			d.Current = fmt.Sprintf("%d bytes: %v", len(data), err)
		} else {
			d.Current = fmt.Sprintf("serial %d, lineage %s, %d resources", cur.Serial, cur.Lineage, len(cur.Instances))
		}
	}
	for _, a := range c.Info.Instances {
		if !slices.Contains(cur.Instances, a) {
			d.Added = append(d.Added, a)
		}
	}
	for _, a := range cur.Instances {
		if !slices.Contains(c.Info.Instances, a) {
			d.Removed = append(d.Removed, a)
		}
	}
	return d
}

// Restore makes the copy c the local state of dir, atomically, keeping
// the file it replaces (when there is one) next to it as
// terraform.tfstate.replaced-<unix seconds>. Call it when no OpenTofu runs
// in dir.
func Restore(dir string, c Copy, now time.Time) error {
	data, err := os.ReadFile(c.Path)
	if err != nil {
		return err
	}
	if _, err := ParseInfo(data); err != nil {
		return fmt.Errorf("restore %s: %w", c.Path, err)
	}
	path := filepath.Join(dir, LocalFile)
	if old, err := os.ReadFile(path); err == nil && len(old) > 0 {
		if err := atomicfile.Write(path+".replaced-"+strconv.FormatInt(now.Unix(), 10), old); err != nil {
			return err
		}
	}
	return atomicfile.Write(path, data)
}
