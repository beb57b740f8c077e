package main

import (
	"fmt"
	"io"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/launcher"
)

func (c *cli) validate(args []string) error {
	fs := c.newFlags("validate", "--config FILE")
	configPath := fs.String("config", "", "allocator config.yaml to check (default: the embedded example config)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	var cfg lablink.Config
	var err error
	if *configPath == "" {
		cfg, err = lablink.ParseConfig(exampleConfig)
	} else {
		cfg, err = lablink.LoadConfig(*configPath)
	}
	if err == nil {
		err = cfg.Validate()
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
	drift := launcher.Drift(schema)
	if len(drift) == 0 {
		fmt.Fprintln(c.stdout, "no drift")
		return nil
	}
	for _, d := range drift {
		fmt.Fprintln(c.stdout, d.String())
	}
	return silent(exitFailure)
}
