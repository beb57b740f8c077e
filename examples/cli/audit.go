package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "-help" && args[0] != "--help" {
		if c.json {
			return badInput("audit", "audit needs a subcommand: list or show")
		}
		fmt.Fprint(c.stderr, auditUsage)
		return silent(exitInvalid)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(c.stdout, auditUsage)
		return nil
	case "list", "show":
	default:
		if c.json {
			return badInput(sub, "unknown audit command %q: want list or show", sub)
		}
		fmt.Fprintf(c.stderr, "unknown audit command %q\n%s", sub, auditUsage)
		return silent(exitInvalid)
	}
	synopsis := "--store s3://BUCKET[/PREFIX]|DIR [--environment ENV]"
	if sub == "show" {
		synopsis += " LAUNCH_ID"
	}
	fs := c.newFlags("audit "+sub, synopsis, auditJSON)
	spec := fs.String("store", "", "audit store: s3://BUCKET[/PREFIX] or a directory (required)")
	envName := fs.String("environment", "", `environment (default $ENVIRONMENT, else "prod")`)
	region := fs.String("region", "", "AWS region of an S3 store (default $AWS_REGION, else the example config's app.region)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *spec == "" {
		return badInput("--store", "--store is required: s3://BUCKET[/PREFIX] or the directory of an audit store, such as WORKDIR/.lablink/audit")
	}
	env := c.getenv("ENVIRONMENT")
	if isSet(fs, "environment") {
		env = *envName
	}
	env = lablink.NormalizeEnvironment(env)
	if *region == "" {
		cfg, err := c.loadConfig("")
		if err != nil {
			return err
		}
		*region = cfg.App.Region
	}
	store, err := openStore(ctx, *spec, &setup.AWS{Region: *region})
	if err != nil {
		return err
	}
	trail := audit.NewTrail(store, nil)
	if sub == "list" {
		return c.auditList(ctx, trail, *spec, env, pos)
	}
	return c.auditShow(ctx, trail, *spec, env, pos)
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
