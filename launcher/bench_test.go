package launcher_test

import (
	"testing"

	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

// BenchmarkRenderClientTFVars is the whole pure path of a launch: the
// binding table evaluated, checked against the module's variables.tf,
// rendered, parsed back and verified against the values and the config.
// Target: under 100 µs and 200 allocations (issue 5).
func BenchmarkRenderClientTFVars(b *testing.B) {
	schema := schema(b, "aws")
	in := defaultInputs(b)
	for _, f := range []tfvars.Format{tfvars.HCL, tfvars.JSON} {
		b.Run(f.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := launcher.Render(schema, in, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
