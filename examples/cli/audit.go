package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/setup"
)

const auditUsage = `usage: go run ./examples/cli audit list --store s3://BUCKET[/PREFIX]|DIR [--environment ENV]
       go run ./examples/cli audit show --store s3://BUCKET[/PREFIX]|DIR [--environment ENV] LAUNCH_ID
`

func (c *cli) audit(ctx context.Context, args []string) error {
	if len(args) == 0 {
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
		fmt.Fprintf(c.stderr, "unknown audit command %q\n%s", sub, auditUsage)
		return silent(exitInvalid)
	}
	synopsis := "--store s3://BUCKET[/PREFIX]|DIR [--environment ENV]"
	if sub == "show" {
		synopsis += " LAUNCH_ID"
	}
	fs := c.newFlags("audit "+sub, synopsis)
	spec := fs.String("store", "", "audit store: s3://BUCKET[/PREFIX] or a directory (required)")
	envName := fs.String("environment", "", `environment (default $ENVIRONMENT, else "prod")`)
	region := fs.String("region", "", "AWS region of an S3 store (default $AWS_REGION, else the example config's app.region)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *spec == "" {
		return invalidf("--store is required")
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
		if len(pos) > 0 {
			return invalidf("unexpected argument %q", pos[0])
		}
		list, _, err := trail.List(ctx, env, audit.HistoryQuery{})
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintf(c.stderr, "audit list: no launches recorded for environment %q in %s\n", env, *spec)
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

	if len(pos) != 1 {
		return invalidf("want exactly one LAUNCH_ID, got %d arguments", len(pos))
	}
	m, data, err := trail.Show(ctx, env, pos[0])
	if err != nil {
		return err
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s\n\n", js)
	_, err = c.stdout.Write(data)
	return err
}
