package terraform

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/inventory"
)

// stateVMs reads the client VMs of the local module's state file in dir
// as Orphans compares them: index, id and the launch id the VM keeps in
// its input. A missing or empty file (OpenTofu killed before it saved
// anything) holds none.
func stateVMs(t *testing.T, dir string) []inventory.Tracked {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if errors.Is(err, fs.ErrNotExist) || len(data) == 0 {
		return nil
	}
	require.NoError(t, err)
	var st struct {
		Resources []struct {
			Mode, Type, Name string
			Instances        []struct {
				IndexKey   int `json:"index_key"`
				Attributes struct {
					ID    string `json:"id"`
					Input struct {
						Value struct {
							LaunchID string `json:"launch_id"`
						} `json:"value"`
					} `json:"input"`
				} `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	require.NoError(t, json.Unmarshal(data, &st), "terraform.tfstate")
	var out []inventory.Tracked
	for _, r := range st.Resources {
		if r.Mode != "managed" || r.Type != "terraform_data" || r.Name != "lablink_vm" {
			continue
		}
		for _, in := range r.Instances {
			out = append(out, inventory.Tracked{Index: in.IndexKey, ID: in.Attributes.ID, LaunchID: in.Attributes.Input.Value.LaunchID})
		}
	}
	return out
}

// listInventory lists the VMs of the inventory directory dir.
func listInventory(t *testing.T, dir string) []inventory.Instance {
	t.Helper()
	got, err := inventory.NewDir(dir, testPrefix).Instances(t.Context())
	require.NoError(t, err, "inventory of %s", dir)
	return got
}

// launches returns each VM's launch id, in index order.
func launches(vms []inventory.Instance) []string {
	var out []string
	for _, vm := range vms {
		out = append(out, vm.LaunchID)
	}
	return out
}

// TestInventoryLocal: each VM the local module creates is in the
// inventory, with the launch that created it, which a later launch does
// not change (no update in place is even planned); destroying the VMs
// empties it. The directory's name holds what a shell would interpret:
// it reaches the shell only through the environment.
func TestInventoryLocal(t *testing.T) {
	t.Parallel()
	tf := newLocal(t)
	inv := filepath.Join(t.TempDir(), "-inv $(touch pwned) `touch pwned` 'q' \"d\" ;|&<> * ${HOME} ünï")
	v := fullVars(3).with("inventory_dir", cty.StringVal(inv)).with("launch_id", cty.StringVal("launch-a"))
	require.NoError(t, apply(t, tf, v), "apply 3")
	first := listInventory(t, inv)
	require.Len(t, first, 3)
	for i, vm := range first {
		assert.Equal(t, i, vm.Index)
		assert.Equal(t, fmt.Sprintf("%s-vm-%d", testPrefix, i+1), vm.Name)
		assert.Equal(t, filepath.Join(inv, vm.ID+".json"), vm.Path)
	}
	assert.Equal(t, []string{"launch-a", "launch-a", "launch-a"}, launches(first))
	assert.Empty(t, inventory.Orphans(first, stateVMs(t, tf.WorkingDir()), nil), "orphans after a clean apply")

	v5 := v.with("instance_count", cty.NumberIntVal(5)).with("launch_id", cty.StringVal("launch-b"))
	want := map[string]tfjson.Actions{
		"terraform_data.lablink_vm[3]": {tfjson.ActionCreate},
		"terraform_data.lablink_vm[4]": {tfjson.ActionCreate},
	}
	for i := range 3 {
		want[fmt.Sprintf("terraform_data.lablink_vm[%d]", i)] = tfjson.Actions{tfjson.ActionNoop}
	}
	assert.Equal(t, want, planActions(t, tf, v5), "another launch_id: the running VMs are left alone")
	require.NoError(t, apply(t, tf, v5), "apply 5")
	all := listInventory(t, inv)
	require.Len(t, all, 5)
	assert.Equal(t, first, all[:3], "the first VMs, untouched")
	assert.Equal(t, []string{"launch-a", "launch-a", "launch-a", "launch-b", "launch-b"}, launches(all))
	var kept []string
	for _, vm := range stateVMs(t, tf.WorkingDir()) {
		kept = append(kept, vm.LaunchID)
	}
	assert.Equal(t, launches(all), kept, "launch ids in the state")
	assert.Empty(t, inventory.Orphans(all, stateVMs(t, tf.WorkingDir()), nil), "orphans after the second apply")

	require.NoError(t, tf.Destroy(t.Context(), tfexec.VarFile(writeVars(t, v5))), "destroy")
	assert.Empty(t, listInventory(t, inv), "inventory after destroy")
	for _, dir := range []string{tf.WorkingDir(), filepath.Dir(inv)} {
		_, err := os.Stat(filepath.Join(dir, "pwned"))
		assert.ErrorIs(t, err, fs.ErrNotExist, "the directory's name ran a command in %s", dir)
	}
}

// TestInventoryOrphan: a VM the inventory holds and the state does not
// is reported, with the command that removes it, also once the next
// launch has created a VM of its index again; after that command nothing
// is reported.
func TestInventoryOrphan(t *testing.T) {
	t.Parallel()
	tf := newLocal(t)
	inv := filepath.Join(t.TempDir(), "inventory")
	v := fullVars(3).with("inventory_dir", cty.StringVal(inv)).with("launch_id", cty.StringVal("launch-a"))
	require.NoError(t, apply(t, tf, v), "apply")
	// The state loses VM 3, as when OpenTofu is killed before it saves it.
	require.NoError(t, tf.StateRm(t.Context(), "terraform_data.lablink_vm[2]"))
	lost := listInventory(t, inv)[2]

	orphans := inventory.Orphans(listInventory(t, inv), stateVMs(t, tf.WorkingDir()), nil)
	require.Len(t, orphans, 1)
	assert.Equal(t, lost, orphans[0].Instance)
	assert.Equal(t, "terraform_data.lablink_vm[2]", orphans[0].Address)
	assert.Empty(t, orphans[0].Import)
	assert.Equal(t, "rm -- "+lost.Path, orphans[0].Terminate)

	// The next launch counts two VMs and creates VM 3 anew.
	require.NoError(t, apply(t, tf, v.with("launch_id", cty.StringVal("launch-b"))), "relaunch")
	vms := listInventory(t, inv)
	require.Len(t, vms, 4, "the lost VM and the new one of its index")
	again := inventory.Orphans(vms, stateVMs(t, tf.WorkingDir()), nil)
	require.Len(t, again, 1)
	assert.Equal(t, orphans[0].Terminate, again[0].Terminate, "the same VM, once")

	out, err := exec.CommandContext(t.Context(), "sh", "-c", again[0].Terminate).CombinedOutput()
	require.NoError(t, err, "%s\n%s", again[0].Terminate, out)
	assert.Empty(t, inventory.Orphans(listInventory(t, inv), stateVMs(t, tf.WorkingDir()), nil), "orphans after the terminate command")
}

// TestInventoryKilledApply kills OpenTofu, with its whole process group,
// in the middle of an apply, after the VMs were created and before the
// apply ends: every VM the inventory holds is then in the state or
// reported as an orphan, once. (OpenTofu saves its state at the end and
// at 20-second intervals, so usually none is in the state: the 0-byte
// state of issue 16.)
func TestInventoryKilledApply(t *testing.T) {
	t.Parallel()
	tf := newLocal(t)
	dir := tf.WorkingDir()
	inv := filepath.Join(t.TempDir(), "inventory")
	started, gate := filepath.Join(t.TempDir(), "started"), filepath.Join(t.TempDir(), "gate")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wait_test.tf"), fmt.Appendf(nil, `
resource "terraform_data" "wait" {
  depends_on = [terraform_data.lablink_vm]
  provisioner "local-exec" {
    command = "touch %s; while [ ! -e %s ]; do sleep 0.05; done"
  }
}
`, started, gate), 0o644))
	v := fullVars(3).with("inventory_dir", cty.StringVal(inv)).with("launch_id", cty.StringVal("launch-a"))

	cmd := exec.Command(tofutest.Binary(t), "apply", "-auto-approve", "-input=false", "-no-color", "-var-file="+writeVars(t, v))
	cmd.Dir = dir
	cmd.Env = tofutest.Env(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log, err := os.Create(filepath.Join(t.TempDir(), "apply.log"))
	require.NoError(t, err)
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		select {
		case <-t.Context().Done():
			require.FailNow(t, "the apply never reached the wait")
		case <-time.After(20 * time.Millisecond):
		}
	}
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL))
	assert.Error(t, cmd.Wait(), "the killed apply")

	vms := listInventory(t, inv)
	require.Len(t, vms, 3, "the cloud holds every VM the apply created")
	state := stateVMs(t, dir)
	orphans := inventory.Orphans(vms, state, nil)
	t.Logf("after the kill: %d VMs in the state, %d orphans", len(state), len(orphans))
	var accounted []int
	for _, s := range state {
		accounted = append(accounted, s.Index)
	}
	for _, o := range orphans {
		accounted = append(accounted, o.Index)
	}
	slices.Sort(accounted)
	assert.Equal(t, []int{0, 1, 2}, accounted, "VMs in the state plus orphans are the inventory, each once")
}
