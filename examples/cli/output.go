package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/lablink-go/lablink/gpu"
)

// writeJSON prints v as stdout's JSON document, indented, with a final
// newline. A value that does not encode is a bug; it is said on stderr.
func (c *cli) writeJSON(v any) {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(c.stderr, "%s: encode JSON: %v\n", progName, err)
	}
}

// errorDoc is the document of a command that fails before it has a
// result to report.
type errorDoc struct {
	Error *errorBody `json:"error"`
}

// failed is embedded in each result document: its "error" member, set
// when the command fails after it has something to report.
type failed struct {
	Error *errorBody `json:"error,omitempty"`
}

// fail reports err of command cmd: with --json, doc (a result document
// embedding failed, filled in as far as the command got) becomes stdout's
// document with its "error" member; in text mode err is returned for exit
// to print.
func (c *cli) fail(cmd string, doc any, slot *failed, err error) error {
	if !c.json {
		return err
	}
	slot.Error = newErrorBody(cmd, err)
	c.writeJSON(doc)
	return silent(codeOf(err))
}

// emit prints the result: doc as JSON with --json, else text.
func (c *cli) emit(doc any, text func(io.Writer) error) error {
	if c.json {
		c.writeJSON(doc)
		return nil
	}
	return text(c.stdout)
}

// gpuDoc is a GPU answer in JSON documents.
type gpuDoc struct {
	InstanceType string `json:"instance_type"`
	NVIDIA       bool   `json:"nvidia"`
	// Source is ec2-api, catalog or flag (--gpu true|false).
	Source      string `json:"source"`
	CatalogDate string `json:"catalog_date,omitempty"`
	Region      string `json:"region,omitempty"`
}

func newGPUDoc(info gpu.Info) gpuDoc {
	return gpuDoc{InstanceType: info.InstanceType, NVIDIA: info.HasNVIDIA(), Source: string(info.Source),
		CatalogDate: info.CatalogDate, Region: info.Region}
}

// isTerminal reports whether f is a terminal (not merely a character
// device: /dev/null is one too).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}
