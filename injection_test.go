package lablink_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/internal/injection"
)

// strictFields are the boot-script and DNS fields with a strict format.
var strictFields = map[string]bool{
	"machine.machine_type": true, "machine.image": true, "machine.ami_id": true,
	"machine.repository": true, "machine.software": true, "machine.extension": true,
	"app.region": true, "allocator.image_tag": true, "startup_script.on_error": true,
	"dns.domain": true, "dns.app_name": true, "dns.custom_subdomain": true,
	"dns.pattern": true, "bucket_name": true, "ssl.provider": true, "eip.strategy": true,
	"deployment_name": true, "provider": true, "manual.connectivity": true,
	"manual.participant_exposure": true,
}

// safeChars are the only characters a strict-format field may hold: none
// of them is special to the shell inside double quotes, to an env file, to
// HCL or to OpenTofu's templates.
const safeChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~:/@%+=-"

// TestInjectionCorpus puts every hostile value of testdata/injection.json
// into every string field of config.yaml. Each value arrives in Config
// exactly as written, and Validate either accepts it or rejects it with an
// error naming that field and no other. What a strict-format field accepts
// (a plain word such as "EOF" or "true" may pass) holds only safeChars.
// That accepted values reach the VM byte-identical is the launcher's
// injection test.
func TestInjectionCorpus(t *testing.T) {
	corpus, err := injection.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	if len(corpus) < 200 {
		t.Fatalf("corpus has %d values, want at least 200", len(corpus))
	}
	fields := injection.StringFields()
	if len(fields) < 25 {
		t.Fatalf("found %d string fields; the reflection walk is broken", len(fields))
	}
	for f := range strictFields {
		if !strings.Contains(strings.Join(fields, " ")+" ", f+" ") {
			t.Errorf("strict field %s is not a string field of Config", f)
		}
	}
	for _, path := range fields {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			tmpl, err := injection.NewTemplate(valid(), path)
			if err != nil {
				t.Fatal(err)
			}
			accepted := 0
			for _, v := range corpus {
				cfg, _, err := lablink.ParseConfig(tmpl.With(v))
				if got, _ := injection.Field(cfg, path); got != v {
					t.Fatalf("%q arrived as %q (%v)", v, got, err)
				}
				if err == nil {
					accepted++
					if !strictFields[path] {
						continue
					}
					if i := strings.IndexFunc(v, func(r rune) bool { return !strings.ContainsRune(safeChars, r) }); i >= 0 {
						t.Errorf("accepts %q, holding %q", v, []rune(v[i:])[0])
					}
					continue
				}
				for _, e := range unjoin(err) {
					var fe *lablink.FieldError
					if !errors.As(e, &fe) || fe.Path != path || !errors.Is(e, lablink.ErrInvalidValue) {
						t.Errorf("%q: error %q does not name %s", v, e, path)
					}
				}
			}
			t.Logf("accepted %d of %d", accepted, len(corpus))
		})
	}
}
