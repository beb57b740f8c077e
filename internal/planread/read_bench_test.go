package planread_test

import (
	"bytes"
	"encoding/json"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/lablink-go/lablink/internal/planread"
	"github.com/lablink-go/lablink/plancheck"
)

// The launcher's path today: tfexec's ShowPlanFile decodes `show -json`
// whole into tfjson.Plan (through a json.Decoder, as runTerraformCmdJSON
// does), then the guard and the summary run over it.
func BenchmarkShowDecode(b *testing.B) {
	for _, lp := range largePlans {
		data, _ := largePlanJSON(b, lp)
		b.Run(lp.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var plan tfjson.Plan
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.UseNumber()
				if err := dec.Decode(&plan); err != nil {
					b.Fatal(err)
				}
				if err := plancheck.Check(plancheck.Changes(&plan), nil); err != nil {
					b.Fatal(err)
				}
				_ = wantSummary(&plan)
			}
		})
	}
}

// Read and the guard over the same plans ("reduced"); for comparison,
// "plain" is one json.Unmarshal of the whole plan into Read's types, and
// "tokens" the same on json.Decoder's token API.
func BenchmarkRead(b *testing.B) {
	for _, lp := range largePlans {
		data, _ := largePlanJSON(b, lp)
		for _, v := range []struct {
			name string
			read func(*bytes.Reader) (*planread.Plan, error)
		}{
			{"reduced", func(r *bytes.Reader) (*planread.Plan, error) { return planread.Read(r, nil) }},
			{"plain", func(r *bytes.Reader) (*planread.Plan, error) { return planread.ReadPlain(r, nil) }},
			{"tokens", func(r *bytes.Reader) (*planread.Plan, error) { return planread.ReadTokens(r, nil) }},
		} {
			b.Run(lp.name+"/"+v.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					p, err := v.read(bytes.NewReader(data))
					if err != nil {
						b.Fatal(err)
					}
					if err := p.Check(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
