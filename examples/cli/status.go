package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfstate"
)

// statusDoc is the JSON document of status.
type statusDoc struct {
	Workdir     string `json:"workdir"`
	Environment string `json:"environment"`
	// Module reports that the working directory holds a module; without
	// one there is nothing more to say.
	Module bool `json:"module"`
	// VMs are the client VMs in the state, by index.
	VMs []vmDoc `json:"vms"`
	// Orphans are VMs the cloud holds and the state does not.
	Orphans []orphanDoc `json:"orphans"`
	// TFVars is the runtime tfvars file, "" when there is none.
	TFVars string `json:"tfvars"`
	// Busy reports that a launch or destroy runs; VMs are those before it.
	Busy bool `json:"busy"`
	// Last is the newest audit record of the environment, null if none.
	Last *lastDoc `json:"last"`
	// StateProblem is why the local state is refused, null when it is
	// sound.
	StateProblem *stateProblemDoc `json:"state_problem"`
	// InventoryError is why the cloud's inventory could not be read (so
	// orphans are unknown), "" when it was or there is none.
	InventoryError string   `json:"inventory_error"`
	Recovery       []string `json:"recovery,omitempty"`
	failed
}

// vmDoc is one client VM in the state.
type vmDoc struct {
	Index   int    `json:"index"`
	Name    string `json:"name"`
	ID      string `json:"id"`
	Address string `json:"address"`
	// LaunchID is the launch that created it, "" when the module does not
	// record it.
	LaunchID     string `json:"launch_id"`
	ConfigDigest string `json:"config_digest"`
	// Stale reports that it booted with another config than the current.
	Stale bool `json:"stale"`
}

// orphanDoc is a VM the cloud holds and the state does not, with the
// commands that resolve it.
type orphanDoc struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	LaunchID string `json:"launch_id,omitempty"`
	// Import adds it to the state at its address; Terminate removes it from
	// the cloud. Either is "" when it does not apply.
	Import    string `json:"import,omitempty"`
	Terminate string `json:"terminate,omitempty"`
}

// lastDoc is the newest audit record.
type lastDoc struct {
	LaunchID  string        `json:"launch_id"`
	Operation audit.Action  `json:"operation"`
	Outcome   audit.Outcome `json:"outcome"`
	Actor     string        `json:"actor,omitempty"`
	Started   time.Time     `json:"started"`
	Requested int           `json:"requested"`
	Total     int           `json:"total"`
	Error     string        `json:"error,omitempty"`
}

// stateProblemDoc is why the local state is refused.
type stateProblemDoc struct {
	Message string `json:"message"`
	File    string `json:"file,omitempty"`
	// Copy is the newest good copy, which restore-state restores.
	Copy    *copyDoc `json:"copy"`
	Restore string   `json:"restore"`
}

const statusJSON = `JSON (--json): {"workdir", "environment", "module", "vms": [{"index", "name", "id",
"address", "launch_id", "config_digest", "stale"}], "orphans": [{"id", "name",
"launch_id", "import", "terminate"}], "tfvars", "busy", "last": {"launch_id",
"operation", "outcome", "actor", "started", "requested", "total", "error"},
"state_problem": {"message", "file", "copy", "restore"}, "inventory_error", "recovery",
"error"};
see JSON.md.
`

func (c *cli) status(ctx context.Context, args []string) error {
	w, envs, cfg, has, err := c.workdirCommand("status", "--workdir DIR [flags]", statusJSON, args, nil)
	if err != nil {
		return err
	}
	env := c.env(envs, w.config)
	doc := statusDoc{Workdir: w.workdir, Environment: cfg.EnvironmentName(env.Environment), VMs: []vmDoc{}, Orphans: []orphanDoc{}}
	if !has && w.state.Spec != "" && w.state.Spec != "local" {
		// A fresh working directory on a shared state: the local module
		// is enough for OpenTofu to read it.
		mod, err := terraform.Open("local")
		if err != nil {
			return err
		}
		if err := c.installModule(w.workdir, mod); err != nil {
			return err
		}
		has = true
	}
	if !has {
		return c.emit(doc, func(out io.Writer) error {
			fmt.Fprintf(out, "workdir:        %s\nclient VMs:     0 (no module yet)\nruntime tfvars: none\n", w.workdir)
			return nil
		})
	}
	l, notes, err := c.openLauncher(ctx, w, &setup.AWS{Region: cfg.App.Region}, cfg, env, gpu.Catalog{}, nil, true)
	if err != nil {
		return err
	}
	defer l.Close()
	doc.Module, doc.Environment, doc.Recovery = true, l.Environment(), notes
	st, err := l.Status(ctx)
	if err != nil {
		return err
	}
	fillStatus(&doc, st, l.TFVarsPath(), cfg.App.Region)
	if doc.InventoryError != "" {
		fmt.Fprintf(c.stderr, "warning: %s\n", inventoryWarning(doc.InventoryError))
	}
	return c.emit(doc, func(out io.Writer) error { return printStatus(out, doc) })
}

// fillStatus puts st into doc.
func fillStatus(doc *statusDoc, st launcher.Status, tfvarsPath, region string) {
	for _, vm := range st.VMs {
		doc.VMs = append(doc.VMs, vmDoc{Index: vm.Index, Name: vm.Name, ID: vm.ID, Address: vm.Address,
			LaunchID: vm.LaunchID, ConfigDigest: vm.ConfigDigest, Stale: vm.Stale})
	}
	doc.Orphans = append(doc.Orphans, orphanDocs(st.Orphans)...)
	if st.TFVars {
		doc.TFVars = tfvarsPath
	}
	doc.Busy = st.Busy
	if m := st.Last; m != nil {
		doc.Last = &lastDoc{LaunchID: m.LaunchID, Operation: m.Action, Outcome: m.Outcome, Actor: m.Actor,
			Started: m.Started.UTC(), Requested: m.Requested, Total: m.Total, Error: m.Error}
	}
	if st.State != nil {
		p := &stateProblemDoc{Message: st.State.Error(), Restore: progName + " restore-state --workdir " + doc.Workdir}
		var ie *tfstate.IntegrityError
		if errors.As(st.State, &ie) {
			p.File = ie.File
			if ie.Copy != nil {
				cd := newCopyDoc(*ie.Copy)
				p.Copy = &cd
			}
		}
		doc.StateProblem = p
	}
	if st.InventoryError != nil {
		doc.InventoryError = st.InventoryError.Error()
	}
}

// inventoryWarning says that the cloud's inventory could not be read,
// and why.
func inventoryWarning(why string) string {
	return "the cloud's inventory could not be read, so VMs the cloud holds and the state does not are unknown: " + why
}

// printStatus is the text of status.
func printStatus(out io.Writer, doc statusDoc) error {
	fmt.Fprintf(out, "workdir:        %s\n", doc.Workdir)
	fmt.Fprintf(out, "environment:    %s\n", doc.Environment)
	busy := ""
	if doc.Busy {
		busy = " (a launch or destroy runs; these are the VMs before it)"
	}
	if doc.StateProblem != nil {
		fmt.Fprintln(out, "client VMs:     unknown (the state is refused; see below)")
	} else {
		fmt.Fprintf(out, "client VMs:     %d%s\n", len(doc.VMs), busy)
	}
	if len(doc.VMs) > 0 {
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  INDEX\tNAME\tID\tLAUNCH\tCONFIG")
		for _, vm := range doc.VMs {
			config := "current"
			switch {
			case vm.Stale:
				config = "stale (booted with an earlier config)"
			case vm.ConfigDigest == "":
				config = "unknown"
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", vm.Index, vm.Name, vm.ID, cmp.Or(vm.LaunchID, "-"), config)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if doc.InventoryError != "" {
		fmt.Fprintln(out, "orphans:        unknown (the cloud's inventory could not be read)")
	} else {
		fmt.Fprintf(out, "orphans:        %d\n", len(doc.Orphans))
	}
	for _, o := range doc.Orphans {
		fmt.Fprintf(out, "  %s %s (launch %s): the cloud holds it and the state does not\n", o.Name, o.ID, cmp.Or(o.LaunchID, "unknown"))
		if o.Import != "" {
			fmt.Fprintf(out, "    import:    %s\n", o.Import)
		}
		if o.Terminate != "" {
			fmt.Fprintf(out, "    terminate: %s\n", o.Terminate)
		}
	}
	fmt.Fprintf(out, "runtime tfvars: %s\n", cmp.Or(doc.TFVars, "none"))
	if m := doc.Last; m != nil {
		fmt.Fprintf(out, "last launch:    %s %s %s at %s\n", m.LaunchID, m.Operation, m.Outcome, m.Started.Format(time.RFC3339))
	} else {
		fmt.Fprintln(out, "last launch:    none")
	}
	if p := doc.StateProblem; p != nil {
		fmt.Fprintf(out, "state refused:  %s\n                see what differs and restore it: %s\n", p.Message, p.Restore)
	}
	return nil
}

// orphanDocs describes orphans with the commands the inventory gives for
// them: import it into the state (when its number is free) or terminate
// it.
func orphanDocs(orphans []launcher.Orphan) []orphanDoc {
	var out []orphanDoc
	for _, o := range orphans {
		out = append(out, orphanDoc{ID: o.ID, Name: o.Name, LaunchID: o.LaunchID, Import: o.Import, Terminate: o.Terminate})
	}
	return out
}
