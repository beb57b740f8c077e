package tfvars

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// clientValues is a realistic runtime value set: the 17 variables of
// testdata/modules/client.
func clientValues() map[string]cty.Value {
	return map[string]cty.Value{
		"allocator_ip":                cty.StringVal("52.40.142.146"),
		"allocator_url":               cty.StringVal("https://prod.lablink.sleap.ai"),
		"allocator_port":              cty.NumberIntVal(443),
		"machine_type":                cty.StringVal("g4dn.xlarge"),
		"image_name":                  cty.StringVal("ghcr.io/talmolab/lablink-client-base-image:latest"),
		"repository":                  cty.StringVal("https://github.com/talmolab/sleap-tutorial-data.git"),
		"client_ami_id":               cty.StringVal("ami-00c257e12d6828491"),
		"subject_software":            cty.StringVal("sleap"),
		"resource_suffix":             cty.StringVal("prod"),
		"gpu_support":                 cty.True,
		"cloud_init_output_log_group": cty.StringVal(""),
		"region":                      cty.StringVal("us-west-2"),
		"startup_on_error":            cty.StringVal("continue"),
		"startup_max_attempts":        cty.NumberIntVal(3),
		"startup_base_delay_seconds":  cty.NumberIntVal(30),
		"startup_success_check_b64":   cty.StringVal("dGVzdCAtZiAvdG1wL3JlYWR5Cg=="),
		"instance_count":              cty.NumberIntVal(12),
	}
}

func TestClientValuesMatchModule(t *testing.T) {
	require.NoError(t, mustLoad(t, "client").Check(clientValues()), "Check of the benchmark values")
}

// BenchmarkRenderVerify measures what a launch pays to render the runtime
// tfvars and prove it by parsing it back.
func BenchmarkRenderVerify(b *testing.B) {
	values := clientValues()
	for _, format := range []Format{HCL, JSON} {
		b.Run(format.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				src, err := Render(values, &Options{Format: format})
				if err != nil {
					b.Fatal(err)
				}
				if err := Verify(src, format, values, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
