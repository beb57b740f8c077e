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

// Head is a state's identity, what a check against its last good copy
// and a read-back after an apply compare.
type Head struct {
	Version int
	Serial  uint64
	Lineage string
}

// ParseHead checks that data is one whole JSON document and reads its
// version, serial and lineage without decoding its resources (OpenTofu
// writes them first): a fraction of ParseInfo's cost on the megabytes of
// a large state. An empty or truncated file is an error matching ErrEmpty
// or ErrCorrupt.
func ParseHead(data []byte) (Head, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Head{}, ErrEmpty
	}
	if !json.Valid(data) {
		// Only a broken state pays for the full decode, which names what
		// is wrong ("unexpected end of JSON input" for a cut-off file).
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return Head{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return Head{}, fmt.Errorf("%w: not one whole JSON document", ErrCorrupt)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return Head{}, fmt.Errorf("%w: not a JSON object", ErrCorrupt)
	}
	var h Head
	var serial bool
	for dec.More() && (h.Version == 0 || !serial || h.Lineage == "") {
		t, err := dec.Token()
		if err != nil {
			return Head{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		var dst any = &json.RawMessage{}
		switch t {
		case "version":
			dst = &h.Version
		case "serial":
			dst, serial = &h.Serial, true
		case "lineage":
			dst = &h.Lineage
		}
		if err := dec.Decode(dst); err != nil {
			return Head{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	}
	if h.Version < 3 || !serial || h.Lineage == "" {
		return Head{}, fmt.Errorf("%w: no version, serial or lineage", ErrCorrupt)
	}
	return h, nil
}

// Copy is a good copy of a working directory's local state, kept before
// each apply.
type Copy struct {
	// Path is the copy's file.
	Path string
	// Info is what the copy holds; Newest fills in only its Version,
	// Serial and Lineage, and Resources.
	Info Info
	// Resources counts the copy's managed resource instances.
	Resources int
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
	name := fmt.Sprintf("%s-serial%d-%s-n%d.tfstate", now.UTC().Format("20060102T150405.000000000Z"),
		info.Serial, safeLineage(info.Lineage), len(info.Instances))
	p := filepath.Join(cd, name)
	if err := atomicfile.Write(p, data); err != nil {
		return nil, err
	}
	if err := prune(dir, keepCopies); err != nil {
		return nil, err
	}
	return &Copy{Path: p, Info: info, Resources: len(info.Instances), Taken: now.UTC()}, nil
}

// safeLineage is a lineage as a copy's name holds it: OpenTofu's are
// UUIDs, kept as they are; anything else a file name must not hold
// becomes '_'.
func safeLineage(l string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r == '-' {
			return r
		}
		return '_'
	}, l)
}

// nameInfo reads the serial, lineage and resource count a copy's name
// holds (after its "-serial"), false for a name without them.
func nameInfo(rest string) (serial uint64, lineage string, n int, ok bool) {
	rest, found := strings.CutSuffix(rest, ".tfstate")
	if !found {
		return 0, "", 0, false
	}
	head, tail, found := strings.Cut(rest, "-")
	if !found {
		return 0, "", 0, false
	}
	i := strings.LastIndex(tail, "-n")
	if i < 0 {
		return 0, "", 0, false
	}
	serial, err1 := strconv.ParseUint(head, 10, 64)
	n, err2 := strconv.Atoi(tail[i+2:])
	if err1 != nil || err2 != nil || i == 0 {
		return 0, "", 0, false
	}
	return serial, tail[:i], n, true
}

// Copies lists the copies of dir's state, newest first; copies that do not
// parse are left out. It reads every copy: Newest reads none.
func Copies(dir string) ([]Copy, error) {
	return copies(dir)
}

// Newest is the newest copy of dir's state, nil when there is none. It
// reads its identity from the copy's name, and a file only for a copy
// named without it (kept by an earlier version), stopping at the first
// that parses. The copy's Info then holds no Instances; Resources counts
// them.
func Newest(dir string) (*Copy, error) {
	names, err := copyNames(dir)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if serial, lineage, count, ok := nameInfo(n.rest); ok {
			return &Copy{Path: filepath.Join(copiesDir(dir), n.name), Taken: n.taken, Resources: count,
				Info: Info{Version: 4, Serial: serial, Lineage: lineage}}, nil
		}
		if c, ok := readCopy(dir, n); ok {
			return &c, nil
		}
	}
	return nil, nil
}

// copyName is a copy's file name, the time it was taken, and the rest of
// its name after "-serial".
type copyName struct {
	name, rest string
	taken      time.Time
}

// copyNames lists dir's copies, newest first, from their names: they
// start with the time they were taken.
func copyNames(dir string) ([]copyName, error) {
	entries, err := os.ReadDir(copiesDir(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []copyName
	for _, e := range entries {
		stamp, rest, ok := strings.Cut(e.Name(), "-serial")
		if !ok || !strings.HasSuffix(e.Name(), ".tfstate") {
			continue
		}
		taken, err := time.Parse("20060102T150405.000000000Z", stamp)
		if err != nil {
			continue
		}
		names = append(names, copyName{e.Name(), rest, taken})
	}
	slices.SortFunc(names, func(a, b copyName) int { return b.taken.Compare(a.taken) })
	return names, nil
}

// readCopy reads and parses the copy n.
func readCopy(dir string, n copyName) (Copy, bool) {
	p := filepath.Join(copiesDir(dir), n.name)
	data, err := os.ReadFile(p)
	if err != nil {
		return Copy{}, false
	}
	info, err := ParseInfo(data)
	if err != nil {
		return Copy{}, false
	}
	return Copy{Path: p, Info: info, Resources: len(info.Instances), Taken: n.taken}, true
}

// copies lists every good copy, newest first, reading each.
func copies(dir string) ([]Copy, error) {
	names, err := copyNames(dir)
	if err != nil {
		return nil, err
	}
	var out []Copy
	for _, n := range names {
		if c, ok := readCopy(dir, n); ok {
			out = append(out, c)
		}
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
			e.Copy.Path, e.Copy.Info.Serial, e.Copy.Resources)
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
	held := last != nil && last.Resources > 0
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
	info, err := ParseHead(data)
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
	// CurrentBytes is the state file's size, -1 when it cannot be read;
	// CurrentInfo what it holds, nil when it does not parse.
	CurrentBytes int
	CurrentInfo  *Info
	// Restored is the copy's serial and lineage.
	Restored string
	// Added are instances the copy holds and the state file does not;
	// Removed the other way round.
	Added, Removed []string
}

// Diff compares the local state of dir with the copy c, which it reads
// again (a copy from Newest holds no list of instances).
func Diff(dir string, c Copy) Difference {
	if data, err := os.ReadFile(c.Path); err == nil {
		if info, err := ParseInfo(data); err == nil {
			c.Info = info
		}
	}
	d := Difference{Restored: fmt.Sprintf("serial %d, lineage %s, %d resources", c.Info.Serial, c.Info.Lineage, len(c.Info.Instances))}
	data, err := os.ReadFile(filepath.Join(dir, LocalFile))
	d.CurrentBytes = len(data)
	var cur Info
	switch {
	case err != nil:
		d.Current, d.CurrentBytes = err.Error(), -1
	default:
		if cur, err = ParseInfo(data); err != nil {
			d.Current = fmt.Sprintf("%d bytes: %v", len(data), err)
		} else {
			d.Current = fmt.Sprintf("serial %d, lineage %s, %d resources", cur.Serial, cur.Lineage, len(cur.Instances))
			d.CurrentInfo = &cur
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
// terraform.tfstate.replaced-<unix seconds>, whose path it returns ("" when
// there was none). Call it when no OpenTofu runs in dir.
func Restore(dir string, c Copy, now time.Time) (replaced string, err error) {
	data, err := os.ReadFile(c.Path)
	if err != nil {
		return "", err
	}
	if _, err := ParseInfo(data); err != nil {
		return "", fmt.Errorf("restore %s: %w", c.Path, err)
	}
	path := filepath.Join(dir, LocalFile)
	if old, err := os.ReadFile(path); err == nil && len(old) > 0 {
		replaced = path + ".replaced-" + strconv.FormatInt(now.Unix(), 10)
		if err := atomicfile.Write(replaced, old); err != nil {
			return "", err
		}
	}
	return replaced, atomicfile.Write(path, data)
}
