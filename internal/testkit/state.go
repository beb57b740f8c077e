package testkit

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/tfvars"
)

// StateInstances counts the instances of the managed resource typ.name
// in the root module of the local state file dir/terraform.tfstate,
// independently of the launcher's own counting; 0 when there is no state
// file yet. A state that is not valid JSON fails the test.
func StateInstances(t testing.TB, dir, typ, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	require.NoError(t, err)
	var st struct {
		Resources []struct {
			Module, Mode, Type, Name string
			Instances                []json.RawMessage
		}
	}
	require.NoError(t, json.Unmarshal(b, &st), "state is not valid JSON")
	n := 0
	for _, r := range st.Resources {
		if r.Module == "" && r.Mode == "managed" && r.Type == typ && r.Name == name {
			n += len(r.Instances)
		}
	}
	return n
}

// InstanceCount is the instance_count a tfvars file in format f holds.
func InstanceCount(t testing.TB, data []byte, f tfvars.Format) int {
	t.Helper()
	vals, err := tfvars.Parse(data, f)
	require.NoError(t, err)
	v, ok := vals["instance_count"]
	require.True(t, ok, "no instance_count in the tfvars")
	n, _ := v.AsBigFloat().Int64()
	return int(n)
}

// InstanceCountFile is InstanceCount of the tfvars file at path, in the
// format its name says.
func InstanceCountFile(t testing.TB, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return InstanceCount(t, data, tfvars.FormatOf(path))
}
