package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/setup"
)

var auditUsage = `usage: ` + progName + ` audit list --store s3://BUCKET[/PREFIX]|DIR [--environment ENV] [--json]
       ` + progName + ` audit show --store s3://BUCKET[/PREFIX]|DIR [--environment ENV] [--json] LAUNCH_ID
`

// auditListDoc is the JSON document of audit list.
type auditListDoc struct {
	Store       string `json:"store"`
	Environment string `json:"environment"`
	// Records are the audit manifests, newest first.
	Records []audit.Manifest `json:"records"`
}

// auditShowDoc is the JSON document of audit show.
type auditShowDoc struct {
	Manifest audit.Manifest `json:"manifest"`
	// TFVars is the runtime tfvars stored with it (sensitive values
	// redacted unless the launcher kept them).
	TFVars string `json:"tfvars"`
}

const auditJSON = `JSON (--json): list {"store", "environment", "records": [manifest]}; show
{"manifest", "tfvars"}; a manifest is the audit record as stored ("launch_id",
"environment", "operation", "actor", "started", "finished", "duration",
"requested", "existing", "total", "config_digest", "tfvars_sha256", "variables",
"gpu", "plan", "outcome", "error"); see JSON.md.
`

func (c *cli) audit(ctx context.Context, args []string) error {
	sub, args, err := c.subcommand("audit", auditUsage, args, "list", "show")
	if sub == "" {
		return err
	}
	synopsis := "--store s3://BUCKET[/PREFIX]|DIR [--environment ENV]"
	if sub == "show" {
		synopsis += " LAUNCH_ID"
	}
	fs := c.newFlags("audit "+sub, synopsis, auditJSON)
	sf := addStoreFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	store, env, err := c.openStoreFlags(ctx, sf)
	if err != nil {
		return err
	}
	trail := audit.NewTrail(store, nil)
	if sub == "list" {
		return c.auditList(ctx, trail, sf.spec, env, pos)
	}
	return c.auditShow(ctx, trail, sf.spec, env, pos)
}

// auditList lists the records of env, newest first.
func (c *cli) auditList(ctx context.Context, trail *audit.Trail, spec, env string, pos []string) error {
	if len(pos) > 0 {
		return badInput(pos[0], "unexpected argument %q: audit list takes flags only (audit show takes a LAUNCH_ID)", pos[0])
	}
	list, _, err := trail.List(ctx, env, audit.HistoryQuery{})
	if err != nil {
		return err
	}
	if c.json {
		c.writeJSON(auditListDoc{Store: spec, Environment: env, Records: append([]audit.Manifest{}, list...)})
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintf(c.stderr, "audit list: no launches recorded for environment %q in %s\n", env, spec)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAUNCH ID\tSTARTED\tOPERATION\tOUTCOME\tVMS\tACTOR")
	for _, m := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d existing + %d requested = %d\t%s\n",
			m.LaunchID, m.Started.UTC().Format(time.RFC3339), m.Action, m.Outcome,
			m.Existing, m.Requested, m.Total, m.Actor)
	}
	return tw.Flush()
}

// auditShow shows one record and the tfvars stored with it.
func (c *cli) auditShow(ctx context.Context, trail *audit.Trail, spec, env string, pos []string) error {
	if len(pos) != 1 {
		return badInput("LAUNCH_ID", "want exactly one LAUNCH_ID (audit list shows them), got %d arguments", len(pos))
	}
	m, data, err := trail.Show(ctx, env, pos[0])
	if errors.Is(err, audit.ErrNotFound) {
		return badInput("LAUNCH_ID", "%s: no audit record of environment %q in %s (audit list shows them; --environment picks another)", pos[0], env, spec)
	}
	if err != nil {
		return err
	}
	if c.json {
		c.writeJSON(auditShowDoc{Manifest: m, TFVars: string(data)})
		return nil
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s\n\n", js)
	_, err = c.stdout.Write(data)
	return err
}

// storeFlags are the flags that open an audit store, audit's and
// schedule's.
type storeFlags struct {
	fs                *flag.FlagSet
	spec, env, region string
}

func addStoreFlags(fs *flag.FlagSet) *storeFlags {
	s := &storeFlags{fs: fs}
	fs.StringVar(&s.spec, "store", "", "audit store: s3://BUCKET[/PREFIX] or a directory (required)")
	fs.StringVar(&s.env, "environment", "", `environment (default $ENVIRONMENT, else "prod")`)
	fs.StringVar(&s.region, "region", "", "AWS region of an S3 store (default $AWS_REGION, else the example config's app.region)")
	return s
}

// openStoreFlags opens the store the flags name and returns it with the
// environment: --environment, else $ENVIRONMENT, normalized.
func (c *cli) openStoreFlags(ctx context.Context, s *storeFlags) (audit.Store, string, error) {
	if s.spec == "" {
		return nil, "", badInput("--store", "--store is required: s3://BUCKET[/PREFIX] or the directory of an audit store, such as WORKDIR/.lablink/audit")
	}
	env := c.getenv("ENVIRONMENT")
	if isSet(s.fs, "environment") {
		env = s.env
	}
	if s.region == "" {
		cfg, err := c.loadConfig("")
		if err != nil {
			return nil, "", err
		}
		s.region = cfg.App.Region
	}
	store, err := openStore(ctx, s.spec, &setup.AWS{Region: s.region})
	if err != nil {
		return nil, "", err
	}
	return store, lablink.NormalizeEnvironment(env), nil
}

// subcommand splits a command group's arguments (audit, schedule) into
// its subcommand, one of subs, and the rest. Help (-h, help) prints the
// usage on stderr, as every command's -h does, and returns "" and nil; a
// missing or unknown subcommand returns "" and invalid input: the usage on
// stderr, or with --json an error document naming the argument.
func (c *cli) subcommand(group, usage string, args []string, subs ...string) (string, []string, error) {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprint(c.stderr, usage)
			return "", nil, nil
		}
		if slices.Contains(subs, args[0]) {
			return args[0], args[1:], nil
		}
	}
	want := strings.Join(subs, ", ")
	switch {
	case len(args) == 0 || strings.HasPrefix(args[0], "-"):
		if c.json {
			return "", nil, badInput(group, "%s needs a subcommand: %s", group, want)
		}
		fmt.Fprint(c.stderr, usage)
	default:
		if c.json {
			return "", nil, badInput(args[0], "unknown %s command %q: want %s", group, args[0], want)
		}
		fmt.Fprintf(c.stderr, "unknown %s command %q\n%s", group, args[0], usage)
	}
	return "", nil, silent(exitInvalid)
}
