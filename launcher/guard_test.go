package launcher_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/plancheck"
)

// A launch refuses every plan that would disturb a running VM, whatever
// the module change behind it, and leaves the state and the runtime
// tfvars as they were: an update in place (on AWS a user_data change
// stops and starts the VM), a forget (`lifecycle { destroy = false }`, the
// VM keeps running untracked) and a forget+create. Each case edits the
// local module in the working directory after a first launch of 2 VMs.
func TestLaunchRefusesDisturbingVMs(t *testing.T) {
	const block = "  lifecycle {\n    # As on AWS: a changed config applies to VMs created from now on and\n" +
		"    # leaves running VMs alone.\n    ignore_changes = [input]\n  }\n"
	tests := []struct {
		name    string
		edit    func(main string) string
		cfg     func(c *lablink.Config)
		shrink  bool // the Counter says 0, so instance_count drops to 1
		action  string
		refused int
	}{
		{name: "update in place", action: "update", refused: 2,
			edit: func(m string) string { return strings.Replace(m, block, "", 1) },
			cfg:  func(c *lablink.Config) { c.Machine.Software = "napari" }},
		{name: "forget", action: "forget", refused: 1, shrink: true,
			edit: func(m string) string {
				return strings.Replace(m, block, "  lifecycle {\n    destroy = false\n    ignore_changes = [input]\n  }\n", 1)
			}},
		{name: "forget and create", action: "forget", refused: 2,
			edit: func(m string) string {
				return strings.Replace(m, block, "  lifecycle {\n    destroy = false\n    ignore_changes = [input]\n  }\n", 1)
			},
			cfg: func(c *lablink.Config) { c.Machine.AMIID = "ami-0123456789abcdef0" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			_, err := f.launcher(t, testkit.Config(), nil).Launch(ctx, launcher.Request{Count: 2})
			require.NoError(t, err)
			applied := readFile(t, f.tfvarsPath())
			main := filepath.Join(f.dir, "main.tf")
			src := readFile(t, main)
			edited := tt.edit(src)
			require.NotEqual(t, src, edited, "the module edit did not apply; did main.tf change layout?")
			writeFile(t, main, edited)

			cfg := testkit.Config()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			var opts launcher.Options
			if tt.shrink {
				opts.Counter = launcher.CounterFunc(func(context.Context) (int, error) { return 0, nil })
			}
			l := f.launcher(t, cfg, &opts)
			_, err = l.Launch(ctx, launcher.Request{Count: 1})
			assert.ErrorIs(t, err, plancheck.ErrRefused)
			var why *plancheck.RefusedError
			require.ErrorAs(t, err, &why)
			assert.Len(t, why.Violations, tt.refused, "violations %v", why.Violations)
			for _, v := range why.Violations {
				assert.True(t, strings.HasPrefix(v.Address, "terraform_data.lablink_vm["), v.Address)
				assert.Contains(t, v.Actions, tt.action, v.String())
			}
			assert.Equal(t, 2, f.stateVMs(t), "VMs in state after a refused launch")
			assert.Equal(t, applied, readFile(t, f.tfvarsPath()), "runtime tfvars after a refused launch are those last applied")
			list := auditList(t, l)
			require.Equal(t, []audit.Outcome{audit.OutcomeRefused, audit.OutcomeSucceeded}, outcomes(list), "audit records")
			assert.Contains(t, list[0].Error, tt.action)
		})
	}
}
