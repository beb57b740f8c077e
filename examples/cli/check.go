package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/tfvars"
)

// validate lists every problem of a config on stdout, deprecation warnings
// on stderr; a config with only warnings is valid (exit 0).
func (c *cli) validate(args []string) error {
	fs := c.newFlags("validate", "--config FILE")
	configPath := fs.String("config", "", "allocator config.yaml to check (default: the embedded example config)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	_, warns, err := c.readConfig(*configPath)
	for _, w := range warns {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	if err != nil {
		printEach(c.stdout, err)
		return silent(exitInvalid)
	}
	fmt.Fprintln(c.stdout, "ok")
	return nil
}

// printEach prints the errors joined in err one per line, in order.
func printEach(w io.Writer, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			printEach(w, e)
		}
		return
	}
	fmt.Fprintln(w, err)
}

// defaults lists every variable of the module with where its value comes
// from and any drift of its default from the Go config default. It fails
// (exit 1) on drift or on a required variable lablink cannot supply.
func (c *cli) defaults(args []string) error {
	fs := c.newFlags("defaults", "[--module DIR]")
	module := fs.String("module", "", "module directory (default: the embedded aws module)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	schema, err := loadSchema(*module)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tSOURCE\tFROM\tMODULE DEFAULT\tDRIFT")
	bad := 0
	for _, s := range clientvars.Sources(schema) {
		def := "(required)"
		if !s.Required {
			def = tfvars.Literal(s.Default)
		}
		drift := "-"
		if s.Drift != "" {
			drift = s.Drift
			bad++
		}
		if s.Kind == clientvars.Unbound {
			bad++
		}
		from := s.From
		if from == "" {
			from = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Variable, s.Kind, from, def, drift)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if bad > 0 {
		return silent(exitFailure)
	}
	return nil
}
