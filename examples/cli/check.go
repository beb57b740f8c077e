package main

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/tfvars"
)

// validateDoc is the JSON document of validate.
type validateDoc struct {
	// Config is the file checked, "" for the embedded example.
	Config   string       `json:"config"`
	Valid    bool         `json:"valid"`
	Warnings []warningDoc `json:"warnings"`
	failed
}

// warningDoc is a deprecated key of a config that still loads.
type warningDoc struct {
	Message string `json:"message"`
	Field   string `json:"field"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	// Release is the first upstream release that refuses the key.
	Release     string `json:"release"`
	Replacement string `json:"replacement,omitempty"`
}

const validateJSON = `JSON (--json): {"config", "valid", "warnings": [{"message", "field", "file",
"line", "release", "replacement"}], "error": {"message", "problems": [{"message",
"field", "file", "line"}]}} (error only when invalid, exit 2); see JSON.md.
`

// validate lists every problem of a config on stdout, deprecation warnings
// on stderr; a config with only warnings is valid (exit 0).
func (c *cli) validate(args []string) error {
	fs := c.newFlags("validate", "--config FILE", validateJSON)
	configPath := fs.String("config", "", "allocator config.yaml to check (default: the embedded example config)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	_, warns, err := c.readConfig(*configPath)
	doc := validateDoc{Config: *configPath, Valid: err == nil, Warnings: []warningDoc{}}
	for _, w := range warns {
		doc.Warnings = append(doc.Warnings, warningDoc{Message: w.String(), Field: w.Path, File: w.File, Line: w.Line,
			Release: w.Release, Replacement: w.Replacement})
	}
	if c.json {
		if err != nil {
			return c.fail("validate", &doc, &doc.failed, invalid(configError(*configPath, err)))
		}
		c.writeJSON(doc)
		return nil
	}
	for _, w := range warns {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	if err != nil {
		for _, p := range problems("validate", configError(*configPath, err)) {
			fmt.Fprintln(c.stdout, p.Message)
		}
		return silent(exitInvalid)
	}
	fmt.Fprintln(c.stdout, "ok")
	return nil
}

// defaultsDoc is the JSON document of defaults.
type defaultsDoc struct {
	// Module is the module directory, "" for the embedded aws module.
	Module    string        `json:"module"`
	Variables []variableDoc `json:"variables"`
	failed
}

// variableDoc is one module variable and where its value comes from.
type variableDoc struct {
	Variable string `json:"variable"`
	// Source is config, derived, environment, secret, request, module
	// default or unbound.
	Source string `json:"source"`
	// From is the YAML path, environment variable or description of the
	// source; "" for a module default and an unbound variable.
	From     string `json:"from,omitempty"`
	Required bool   `json:"required"`
	// Default is the module's default as an HCL literal, "" when required.
	Default string `json:"default,omitempty"`
	// Drift is how the default disagrees with the Go config default.
	Drift string `json:"drift,omitempty"`
}

const defaultsJSON = `JSON (--json): {"module", "variables": [{"variable", "source", "from", "required",
"default", "drift"}], "error"} (error when a default drifts or a required variable
has no source, exit 1); see JSON.md.
`

// defaults lists every variable of the module with where its value comes
// from and any drift of its default from the Go config default. It fails
// (exit 1) on drift or on a required variable lablink cannot supply.
func (c *cli) defaults(args []string) error {
	fs := c.newFlags("defaults", "[--module DIR]", defaultsJSON)
	module := fs.String("module", "", "module directory (default: the embedded aws module)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	schema, err := loadSchema(*module)
	if err != nil {
		return err
	}
	doc := defaultsDoc{Module: *module, Variables: []variableDoc{}}
	var drifts, unbound []string
	for _, s := range clientvars.Sources(schema) {
		v := variableDoc{Variable: s.Variable, Source: string(s.Kind), From: s.From, Required: s.Required, Drift: s.Drift}
		if !s.Required {
			v.Default = tfvars.Literal(s.Default)
		}
		if s.Drift != "" {
			drifts = append(drifts, s.Variable)
		}
		if s.Kind == clientvars.Unbound {
			unbound = append(unbound, s.Variable)
		}
		doc.Variables = append(doc.Variables, v)
	}
	var errs []error
	if len(drifts) > 0 {
		errs = append(errs, fmt.Errorf("the module's defaults disagree with the config's for %s: "+
			"align variables.tf with the config defaults (see each drift)", strings.Join(drifts, ", ")))
	}
	if len(unbound) > 0 {
		errs = append(errs, fmt.Errorf("the module requires variables lablink knows no source for: %s; "+
			"give each a default in variables.tf or remove it", strings.Join(unbound, ", ")))
	}
	err = errors.Join(errs...)
	if c.json {
		if err != nil {
			return c.fail("defaults", &doc, &doc.failed, err)
		}
		c.writeJSON(doc)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tSOURCE\tFROM\tMODULE DEFAULT\tDRIFT")
	for _, v := range doc.Variables {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Variable, v.Source, cmp.Or(v.From, "-"), cmp.Or(v.Default, "(required)"), cmp.Or(v.Drift, "-"))
	}
	if ferr := tw.Flush(); ferr != nil {
		return ferr
	}
	return err
}
