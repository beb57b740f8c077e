package plancheck_test

import (
	"slices"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/plancheck"
)

// violations checks the changes of plan and returns the violations as
// strings, nil when the plan passes. It checks the shape of a refusal:
// errors.Is and errors.As hold, the message holds every violation, and
// each violation carries the actions its change has in the plan.
func violations(t *testing.T, name string, plan *tfjson.Plan, opts *plancheck.Options) []string {
	t.Helper()
	changes := plancheck.Changes(plan)
	err := plancheck.Check(changes, opts)
	if err == nil {
		return nil
	}
	require.ErrorIs(t, err, plancheck.ErrRefused, name)
	var re *plancheck.RefusedError
	require.ErrorAs(t, err, &re, name)
	require.NotEmpty(t, re.Violations, name)
	actions := map[string][][]string{}
	for _, c := range changes {
		addr := c.Address
		if c.Deposed != "" {
			addr += " (deposed " + c.Deposed + ")"
		}
		actions[addr] = append(actions[addr], c.Actions)
	}
	out := make([]string, len(re.Violations))
	for i, v := range re.Violations {
		out[i] = v.String()
		assert.Contains(t, err.Error(), v.String(), name)
		assert.True(t, slices.ContainsFunc(actions[v.Address], func(a []string) bool { return slices.Equal(a, v.Actions) }),
			"%s: violation %q carries actions %v, not those of its change %v", name, v, v.Actions, actions[v.Address])
	}
	return out
}
