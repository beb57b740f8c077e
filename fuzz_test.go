package lablink_test

import (
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/lablink-go/lablink"
)

// FuzzParseConfig: no input makes ParseConfig panic; parsing is
// deterministic (the same bytes give the same Config, warnings and
// errors); and every problem in a well-formed YAML document is a
// *FieldError naming a path.
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
		"ssl:\n  provider: none\nmonitoring:\n  process_allowlist: [a, *x]\n",
		"monitoring:\n  budget:\n    enabled: true\n",
		"manual:\n  participant_exposure: tailscale_funnel\n",
		"startup_script:\n  success_check: \"$(id)\\n`x`\"\n",
		"machine:\n  software: &a x\n  extension: *a\n",
		"unknown: 1\n",
		"ssl: !!binary aGVsbG8=\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, warns, err := lablink.ParseConfig(data)
		again, warnsAgain, errAgain := lablink.ParseConfig(data)
		if !reflect.DeepEqual(cfg, again) || !reflect.DeepEqual(warns, warnsAgain) || (err == nil) != (errAgain == nil) ||
			(err != nil && err.Error() != errAgain.Error()) {
			t.Fatalf("second parse differs: %v / %v", err, errAgain)
		}
		for _, e := range unjoin(err) {
			var fe *lablink.FieldError
			if errors.As(e, &fe) && fe.Path == "" {
				t.Errorf("field error without a path: %v", e)
			}
		}
		for _, w := range warns {
			if w.Path == "" || w.Line == 0 || w.Release == "" {
				t.Errorf("incomplete warning %+v", w)
			}
		}
	})
}
