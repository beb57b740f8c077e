package planread

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/lablink-go/lablink/plancheck"
)

// ReadTokens is Read built on json.Decoder's token API instead of one
// json.Unmarshal into the raw types: the top-level object is walked key
// by key, each resource change decoded on its own and every other value
// skipped as a json.RawMessage. It exists to measure the two ways against
// each other (BenchmarkRead); it matches top-level keys exactly, not
// case-insensitively as encoding/json does, so it is not the reader.
func ReadTokens(r io.Reader, opts *plancheck.Options) (*Plan, error) {
	sc, err := scopeOf(opts)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("read plan: want an object: %v", err)
	}
	var raw rawPlan
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok {
		case "format_version":
			err = dec.Decode(&raw.FormatVersion)
		case "terraform_version":
			err = dec.Decode(&raw.TerraformVersion)
		case "prior_state":
			err = dec.Decode(&raw.PriorState)
		case "resource_changes":
			if _, err = dec.Token(); err != nil {
				return nil, err
			}
			raw.ResourceChanges = raw.ResourceChanges[:0]
			for dec.More() {
				var rc *rawResourceChange
				if err := dec.Decode(&rc); err != nil {
					return nil, err
				}
				raw.ResourceChanges = append(raw.ResourceChanges, rc)
			}
			_, err = dec.Token()
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return newPlan(&raw, sc, nil)
}

// ReadPlain is Read without the reduced copy: one json.Unmarshal of the
// whole document into the raw types. FuzzReduce holds Read to it.
func ReadPlain(r io.Reader, opts *plancheck.Options) (*Plan, error) {
	sc, err := scopeOf(opts)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var raw rawPlan
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	return newPlan(&raw, sc, nil)
}

// NeedsValues reports whether plancheck.Check, with opts, reads the
// Before, After and AfterUnknown values of a change with c's mode, type,
// name and actions. Read and ReadEvents skip the values of the others
// (the bulk of a plan: every VM's user_data, twice) and still get the
// verdict Check gives the full plan. Invalid options yield true. The
// tests hold the readers to it.
func NeedsValues(c plancheck.Change, opts *plancheck.Options) bool {
	sc, err := scopeOf(opts)
	if err != nil {
		return true
	}
	return sc.needsValues(c)
}
