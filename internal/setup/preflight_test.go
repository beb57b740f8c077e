package setup

import (
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/allocurl"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

func TestInstanceLimit(t *testing.T) {
	t.Parallel()
	for _, name := range terraform.Names() {
		t.Run("embedded "+name, func(t *testing.T) {
			t.Parallel()
			fsys, err := terraform.FS(name)
			require.NoError(t, err)
			got, err := InstanceLimit(fsys)
			require.NoError(t, err)
			assert.Equal(t, RangeLimit, got, "the user_data of each VM comes from range(var.instance_count)")
		})
	}
	tests := []struct {
		name  string
		files fstest.MapFS
		want  int
	}{
		{"no range", fstest.MapFS{"main.tf": {Data: []byte(`resource "x" "y" { count = var.instance_count }`)}}, 0},
		{"spaced call", fstest.MapFS{"locals.tf": {Data: []byte("locals {\n  v = [for i in range( var.instance_count ) : i]\n}\n")}}, RangeLimit},
		{"another variable", fstest.MapFS{"main.tf": {Data: []byte(`locals { v = range(var.instance_count_max) }`)}}, 0},
		{"not a .tf file", fstest.MapFS{"notes.md": {Data: []byte("range(var.instance_count)")}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := InstanceLimit(tc.files)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCheckCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                        string
		count, max, limit, existing int
		want                        *CountError
		wantMessage                 string
	}{
		{name: "within", count: 10, max: 500, limit: RangeLimit, existing: 100},
		{name: "max itself", count: 500, max: 500, limit: RangeLimit, existing: -1},
		{name: "limit itself", count: 24, max: 500, limit: RangeLimit, existing: 1000},
		{name: "above max", count: 100000, max: 500, limit: RangeLimit, existing: -1,
			want: &CountError{Count: 100000, Max: 500, Existing: -1}, wantMessage: "100000 VMs: one launch adds at most 500"},
		{name: "above limit alone", count: 2000, max: 5000, limit: RangeLimit, existing: -1,
			want:        &CountError{Count: 2000, Max: 5000, Limit: RangeLimit, Existing: -1},
			wantMessage: "2000 VMs: the module holds at most 1024 VMs in all (OpenTofu's range() limit)"},
		{name: "above limit with the state", count: 25, max: 500, limit: RangeLimit, existing: 1000,
			want:        &CountError{Count: 25, Max: 500, Limit: RangeLimit, Existing: 1000},
			wantMessage: "25 VMs: the state holds 1000 and the module at most 1024 in all (OpenTofu's range() limit); at most 24 more fit"},
		{name: "no module limit", count: 2000, max: 5000, existing: 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckCount(tc.count, tc.max, tc.limit, tc.existing)
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			var ce *CountError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.want, ce)
			assert.ErrorIs(t, err, ErrTooMany)
			assert.EqualError(t, err, tc.wantMessage)
		})
	}
}

func TestRequestLimit(t *testing.T) {
	t.Parallel()
	assert.Equal(t, DefaultMaxCount, State{}.RequestLimit(), "no --max-count")
	assert.Equal(t, 30, State{MaxCount: 30}.RequestLimit())
}

// TestDefaultMaxCount holds DefaultMaxCount to the launcher's own
// default, which it does not export: a launcher opened without MaxCount
// takes DefaultMaxCount VMs in one request and refuses one more, with the
// real OpenTofu on the local module.
func TestDefaultMaxCount(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, terraform.Materialize("local", dir))
	env := clientvars.Env{AllocatorIP: testkit.AllocatorIP, AllocatorSGID: testkit.SecurityGroup}
	l, err := launcher.Open(t.Context(), dir, testkit.Config(), gpu.Catalog{},
		&launcher.Options{Binary: tofutest.Binary(t), Env: &env, TofuEnv: tofutest.ExecEnv(t)})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })
	_, err = l.Preview(t.Context(), DefaultMaxCount)
	require.NoError(t, err, "a request of DefaultMaxCount VMs")
	_, err = l.Preview(t.Context(), DefaultMaxCount+1)
	require.ErrorIs(t, err, launcher.ErrInvalidCount)
	assert.ErrorContains(t, err, fmt.Sprintf("want 1 to %d", DefaultMaxCount))
}

// TestCheckLaunch: the checks of a launch that run before anything is
// written name each problem by its variable.
func TestCheckLaunch(t *testing.T) {
	t.Parallel()
	fsys, err := terraform.FS("local")
	require.NoError(t, err)
	schema, err := tfvars.LoadSchemaFS(fsys, ".")
	require.NoError(t, err)
	ok := clientvars.Env{AllocatorIP: testkit.AllocatorIP, AllocatorSGID: testkit.SecurityGroup}
	tests := []struct {
		name  string
		edit  func(*clientvars.Env)
		check func(t *testing.T, err error)
	}{
		{"sound", func(*clientvars.Env) {}, func(t *testing.T, err error) { assert.NoError(t, err) }},
		{"no security group", func(e *clientvars.Env) { e.AllocatorSGID = "" }, func(t *testing.T, err error) {
			var ve *tfvars.VariableError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "allocator_sg_id", ve.Name)
		}},
		{"bad IP", func(e *clientvars.Env) { e.AllocatorIP = "999.1.1.1" }, func(t *testing.T, err error) {
			assert.EqualError(t, err, `ALLOCATOR_PUBLIC_IP: "999.1.1.1" is not an IP address`)
		}},
		{"bad FQDN", func(e *clientvars.Env) { e.FQDN = "http://a/b" }, func(t *testing.T, err error) {
			var ae *allocurl.InputError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, "ALLOCATOR_FQDN", ae.Input)
		}},
		{"bad token", func(e *clientvars.Env) { e.AgentToken = "a b" }, func(t *testing.T, err error) {
			assert.ErrorContains(t, err, "LABLINK_AGENT_TOKEN")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := ok
			tc.edit(&env)
			tc.check(t, CheckLaunch(testkit.Config(), env, schema, 3))
		})
	}
}
