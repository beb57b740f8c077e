package clientvars_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/testkit"
)

type countingDetector struct{ calls int }

func (d *countingDetector) Detect(context.Context, string) (gpu.Info, error) {
	d.calls++
	return gpu.Info{}, nil
}

func TestCheckInputs(t *testing.T) {
	cfg := testkit.Config()
	good := clientvars.Env{AllocatorIP: testkit.AllocatorIP, AllocatorSGID: testkit.SecurityGroup}
	_, err := clientvars.CheckInputs(cfg, good)
	assert.NoError(t, err)

	// Every problem at once, each naming its variable.
	bad := clientvars.Env{Environment: "Test_Env", LogGroup: "a b$", AllocatorSGID: "default"}
	_, err = clientvars.CheckInputs(cfg, bad)
	for _, want := range []string{"ALLOCATOR_PUBLIC_IP is not set", "ENVIRONMENT:", "CLOUD_INIT_LOG_GROUP:", "ALLOCATOR_SG_ID:"} {
		assert.ErrorContains(t, err, want)
	}

	invalid := testkit.Config()
	invalid.Machine.MachineType = ""
	_, err = clientvars.CheckInputs(invalid, good)
	assert.ErrorContains(t, err, "machine.machine_type")

	// What CheckInputs accepts, Resolve accepts up to its GPU lookup.
	d := &countingDetector{}
	_, _, err = clientvars.Resolve(t.Context(), cfg, good, d)
	require.NoError(t, err)
	assert.Equal(t, 1, d.calls, "Resolve's lookups")
}
