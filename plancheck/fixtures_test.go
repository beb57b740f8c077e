package plancheck_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/plantest"
)

var update = flag.Bool("update", false, "regenerate testdata/plans with the OpenTofu named by $TOFU_PATH")

// TestGenerateFixtures rebuilds testdata/plans with a real OpenTofu:
//
//	TOFU_PATH=$HOME/.cache/lablink/tofu-v1.12.6 go test ./plancheck -run TestGenerateFixtures -update
//
// Without -update it does nothing, so the other tests need no OpenTofu.
// internal/planread's TestGenerateEventFixtures makes the same plans with
// their event streams.
func TestGenerateFixtures(t *testing.T) {
	plantest.Generate(t, *update, filepath.Join("testdata", "plans"), plantest.PlanCases(), "-no-color", func(t *testing.T, c plantest.Case, _, show []byte) {
		require.NoError(t, os.WriteFile(fixturePath(c.Name), show, 0o644))
	})
}

func fixturePath(name string) string {
	return filepath.Join("testdata", "plans", name+".json")
}
