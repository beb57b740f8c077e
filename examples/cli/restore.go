package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lablink-go/lablink/tfstate"
)

// restoreDoc is the JSON document of restore-state.
type restoreDoc struct {
	Workdir string `json:"workdir"`
	// StateFile is the local state file; Problem why it is refused, ""
	// when it is sound (then nothing is restored).
	StateFile string `json:"state_file"`
	Problem   string `json:"problem,omitempty"`
	// Current describes the state file as it is.
	Current *stateDoc `json:"current,omitempty"`
	// Copy is the newest good copy, the one restored.
	Copy *copyDoc `json:"copy,omitempty"`
	// Added are the resource instances the copy holds and the state file
	// does not; Removed the other way round.
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	// Restored reports that the copy is now the state; Replaced is where
	// the file it replaced is kept, "" when there was none.
	Restored bool   `json:"restored"`
	Replaced string `json:"replaced,omitempty"`
	failed
}

// stateDoc describes a state file as it is.
type stateDoc struct {
	Bytes     int    `json:"bytes"`
	Serial    uint64 `json:"serial"`
	Lineage   string `json:"lineage"`
	Resources int    `json:"resources"`
	// Error is why it does not parse, "" when it does.
	Error string `json:"error,omitempty"`
}

// copyDoc is a good copy of the state.
type copyDoc struct {
	Path      string    `json:"path"`
	Taken     time.Time `json:"taken"`
	Serial    uint64    `json:"serial"`
	Lineage   string    `json:"lineage"`
	Resources int       `json:"resources"`
}

func newCopyDoc(c tfstate.Copy) copyDoc {
	return copyDoc{Path: c.Path, Taken: c.Taken.UTC(), Serial: c.Info.Serial, Lineage: c.Info.Lineage, Resources: c.Resources}
}

const restoreJSON = `restore-state works on a local state (terraform.tfstate in the working directory)
and refuses while an OpenTofu runs there. It shows what differs between the state
file and its newest good copy, asks on a terminal (type yes; --yes skips it),
restores the copy and keeps the replaced file next to it. Off a terminal without
--yes it shows the difference and exits 2.

JSON (--json): {"workdir", "state_file", "problem", "current": {"bytes", "serial",
"lineage", "resources", "error"}, "copy": {"path", "taken", "serial", "lineage",
"resources"}, "added", "removed", "restored", "replaced", "error"}; see JSON.md.
`

// restoreState restores the newest good copy of a refused local state
// (issue 16): it shows what differs, asks, restores and keeps the file it
// replaces.
func (c *cli) restoreState(ctx context.Context, args []string) error {
	fs := c.newFlags("restore-state", "--workdir DIR [--yes]", restoreJSON)
	workdir := fs.String("workdir", "", "OpenTofu working directory whose local state to restore (required)")
	yes := fs.Bool("yes", false, "restore without asking for confirmation")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if *workdir == "" {
		return badInput("--workdir", "--workdir is required: the working directory whose state launch refused")
	}
	if err := checkWorkdir(*workdir); err != nil {
		return err
	}
	if err := localStateOnly(*workdir); err != nil {
		return err
	}
	if tfstate.Busy(*workdir) {
		return fmt.Errorf("an OpenTofu (or another process) runs in %s: wait until it ends, then run restore-state again", *workdir)
	}
	doc := restoreDoc{Workdir: *workdir, StateFile: filepath.Join(*workdir, tfstate.LocalFile), Added: []string{}, Removed: []string{}}
	err := tfstate.Check(*workdir)
	var ie *tfstate.IntegrityError
	switch {
	case err == nil:
		return c.emit(doc, func(out io.Writer) error {
			fmt.Fprintf(out, "the state %s is sound: nothing to restore\n", doc.StateFile)
			return nil
		})
	case !errors.As(err, &ie):
		return err
	}
	doc.Problem = ie.Err.Error()
	if ie.Copy == nil {
		return c.fail("restore-state", &doc, &doc.failed, noCopy(*workdir, ie))
	}
	describeRestore(&doc, *workdir, *ie.Copy)
	if !c.json {
		printRestore(c.stdout, doc)
	}
	if err := c.confirmRestore(ctx, *yes); err != nil {
		return c.fail("restore-state", &doc, &doc.failed, err)
	}
	replaced, err := tfstate.Restore(*workdir, *ie.Copy, c.now())
	if err != nil {
		return c.fail("restore-state", &doc, &doc.failed, err)
	}
	doc.Restored, doc.Replaced = true, replaced
	return c.emit(doc, func(out io.Writer) error {
		fmt.Fprintf(out, "restored:  %s is now %s\n", doc.StateFile, doc.Copy.Path)
		if doc.Replaced != "" {
			fmt.Fprintf(out, "kept:      the replaced file as %s\n", doc.Replaced)
		}
		fmt.Fprintf(out, "next:      VMs created after %s are not in the restored state; %s status --workdir %s lists what it holds\n",
			doc.Copy.Taken.Format(time.RFC3339), progName, *workdir)
		return nil
	})
}

// noCopy explains a refused state that has no good copy.
func noCopy(workdir string, ie *tfstate.IntegrityError) error {
	return fmt.Errorf("%s: %v; there is no good copy in %s to restore: OpenTofu's %s.backup, or a backup of your own, may hold the state",
		ie.File, ie.Err, filepath.Join(workdir, ".lablink", "state-copies"), ie.File)
}

// localStateOnly refuses a working directory whose state lablink keeps in
// S3: restore-state restores the local file only.
func localStateOnly(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, tfstate.FileName))
	if err == nil && bytes.Contains(data, []byte(`backend "s3"`)) {
		return badInput("--workdir", "--workdir %s keeps its state in S3 (%s): restore-state restores a local state only; "+
			"restore an S3 state from the bucket's object versions", dir, tfstate.FileName)
	}
	return nil
}

// describeRestore fills in what restoring c would change.
func describeRestore(doc *restoreDoc, dir string, c tfstate.Copy) {
	cd := newCopyDoc(c)
	doc.Copy = &cd
	d := tfstate.Diff(dir, c)
	doc.Added = append(doc.Added, d.Added...)
	doc.Removed = append(doc.Removed, d.Removed...)
	cur := &stateDoc{Bytes: max(d.CurrentBytes, 0), Error: d.Current}
	if i := d.CurrentInfo; i != nil {
		cur = &stateDoc{Bytes: d.CurrentBytes, Serial: i.Serial, Lineage: i.Lineage, Resources: len(i.Instances)}
	}
	doc.Current = cur
}

// printRestore shows what restoring would change.
func printRestore(out io.Writer, doc restoreDoc) {
	fmt.Fprintf(out, "state file: %s\n", doc.StateFile)
	fmt.Fprintf(out, "refused:    %s\n", doc.Problem)
	if cur := doc.Current; cur.Error != "" {
		fmt.Fprintf(out, "current:    %s\n", cur.Error)
	} else {
		fmt.Fprintf(out, "current:    serial %d, lineage %s, %d resources\n", cur.Serial, cur.Lineage, cur.Resources)
	}
	cp := doc.Copy
	fmt.Fprintf(out, "good copy:  %s (taken %s): serial %d, lineage %s, %d resources\n",
		cp.Path, cp.Taken.Format(time.RFC3339), cp.Serial, cp.Lineage, cp.Resources)
	fmt.Fprintf(out, "restoring adds %d:    %s\n", len(doc.Added), cmpList(doc.Added))
	fmt.Fprintf(out, "restoring removes %d: %s\n", len(doc.Removed), cmpList(doc.Removed))
}

func cmpList(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

// confirmRestore asks on a terminal unless yes; off a terminal without
// yes it refuses, naming --yes.
func (c *cli) confirmRestore(ctx context.Context, yes bool) error {
	switch {
	case yes:
		return nil
	case !c.terminal:
		return badInput("--yes", "no terminal to confirm on (stdin is not one): "+
			"check what differs (shown with this message) and pass --yes to restore")
	}
	answer, err := c.ask(ctx, "restore-state: type yes to restore the copy: ")
	if err != nil {
		return fmt.Errorf("not confirmed: %w; nothing was restored", err)
	}
	if answer != "yes" {
		return fmt.Errorf("not confirmed (the answer was %q, not yes); nothing was restored", answer)
	}
	return nil
}
