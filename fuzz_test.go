package lablink_test

import (
	"errors"
	"os"
	"testing"

	"github.com/lablink-go/lablink"
)

// FuzzParseConfig: no input makes ParseConfig or Validate panic; a
// document that parses into a valid Config reads back identically after a
// second parse of the same bytes (loading is deterministic); and every
// problem in a well-formed YAML document is a *FieldError naming a path.
func FuzzParseConfig(f *testing.F) {
	full, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(full),
		"",
		"machine:\n  machine_type: g5.xlarge\n",
		"machine: [\n",
		"db:\n  port: \"5432\"\n",
		"app:\n  region: us-west-2\n  region: us-east-1\n",
		"dns:\n  enabled: true\n",
		"startup_script:\n  success_check: \"$(id)\\n`x`\"\n",
		"machine:\n  software: &a x\n  extension: *a\n",
		"unknown: 1\n",
		"ssl: !!binary aGVsbG8=\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := lablink.ParseConfig(data)
		if err != nil {
			for _, e := range unjoin(err) {
				var fe *lablink.FieldError
				if errors.As(e, &fe) && fe.Path == "" && fe.Line == 0 {
					t.Errorf("field error without path or line: %v", e)
				}
			}
			return
		}
		again, err := lablink.ParseConfig(data)
		if err != nil || again != cfg {
			t.Fatalf("second parse differs: %v", err)
		}
		if err := cfg.Validate(); err != nil {
			for _, e := range unjoin(err) {
				var fe *lablink.FieldError
				if !errors.As(e, &fe) || fe.Path == "" {
					t.Errorf("validation error without a path: %v", e)
				}
			}
		}
	})
}
