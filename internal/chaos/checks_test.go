package chaos

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/inventory"
	"github.com/lablink-go/lablink/tfstate"
	"github.com/lablink-go/lablink/tfvars"
)

// stateKey is upstream's state key for the harness's config: no
// deployment_name, environment prod.
const stateKey = "lablink/prod/client/terraform.tfstate"

// check asserts every invariant of issue 16 after a round's recovery and
// counts what was lost; then it terminates the orphans with their own
// command and, when the fleet has grown large, destroys it.
func (h *harness) check(t *testing.T, ctx context.Context, s *server, m *mode, ty *tally) {
	t.Helper()
	var st status
	_, err := s.do(http.MethodGet, "/api/status", nil, &st)
	require.NoError(t, err)
	assert.Empty(t, st.StateError, "the state is whole")

	data, err := h.stateData(t, m)
	_, perr := tfstate.ParseInfo(data)
	if err != nil || perr != nil || !m.s3 && tfstate.Check(m.workdir) != nil {
		ty.statesLst++
		t.Errorf("state lost: %v %v %v", err, perr, tfstate.Check(m.workdir))
	}
	vms := stateVMs(t, data)
	assert.Equal(t, len(vms), st.VMs, "the VMs the server counts are the state's")

	held, err := inventory.NewDir(m.inventory, "").Instances(ctx)
	require.NoError(t, err, "the inventory")
	orphan := map[string]bool{}
	for _, o := range st.Orphans {
		orphan[o.ID] = true
	}
	lost := 0
	for _, in := range held {
		if !orphan[in.ID] && !vms[vmKey{in.Index, in.LaunchID}] {
			lost++
			t.Errorf("VM lost: %s (index %d, launch %s) is in the inventory, not in the state, not reported", in.Name, in.Index, in.LaunchID)
		}
	}
	ty.vmsLost += lost
	assert.Equal(t, len(held), len(vms)+len(st.Orphans), "VMs in the state (%d) + orphans (%d) = VMs the inventory holds", len(vms), len(st.Orphans))

	var live []op
	_, err = s.do(http.MethodGet, "/api/operations?status=in_progress", nil, &live)
	require.NoError(t, err)
	assert.Empty(t, live, "no operation is left queued or running")

	h.checkLock(t, ctx, m)
	checkTFVars(t, m.workdir)
	h.checkAudit(t, ctx, s, m)

	for _, o := range st.Orphans {
		out, err := exec.Command("sh", "-c", o.Terminate).CombinedOutput()
		assert.NoError(t, err, "terminate orphan %s with %q: %s", o.Name, o.Terminate, out)
	}
	ty.orphans += len(st.Orphans)
	ty.vms = len(vms)
	if len(vms) > 80 {
		h.destroy(t, ctx, s)
	}
}

// vmKey identifies a local VM: its index and the launch that created it.
type vmKey struct {
	index  int
	launch string
}

// stateData is the state: the working directory's file, or the S3
// object.
func (h *harness) stateData(t *testing.T, m *mode) ([]byte, error) {
	t.Helper()
	if !m.s3 {
		return os.ReadFile(filepath.Join(m.workdir, tfstate.LocalFile))
	}
	out, err := h.minio.S3Client(t).GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(h.bucket), Key: aws.String(stateKey)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// stateVMs lists the client VMs of a state by index and launch id.
func stateVMs(t *testing.T, data []byte) map[vmKey]bool {
	t.Helper()
	var raw struct {
		Resources []struct {
			Mode, Type, Name string
			Instances        []struct {
				IndexKey   int `json:"index_key"`
				Attributes struct {
					Input struct {
						Value struct {
							LaunchID string `json:"launch_id"`
						} `json:"value"`
					} `json:"input"`
				} `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	out := map[vmKey]bool{}
	if err := json.Unmarshal(data, &raw); err != nil {
		return out
	}
	for _, r := range raw.Resources {
		if r.Mode != "managed" || r.Type != "terraform_data" || r.Name != "lablink_vm" {
			continue
		}
		for _, in := range r.Instances {
			out[vmKey{in.IndexKey, in.Attributes.Input.Value.LaunchID}] = true
		}
	}
	return out
}

// checkLock asserts that no lock is left: no OpenTofu runs in the working
// directory, no local lock information, no S3 lock object.
func (h *harness) checkLock(t *testing.T, ctx context.Context, m *mode) {
	t.Helper()
	assert.Empty(t, tofutest.Running(m.workdir), "OpenTofu still runs in the working directory")
	if !m.s3 {
		assert.NoFileExists(t, filepath.Join(m.workdir, ".terraform.tfstate.lock.info"), "local lock left")
		return
	}
	lock, err := tfstate.ReadLock(ctx, h.minio.S3Client(t), tfstate.S3{Bucket: h.bucket, Key: stateKey, Region: miniotest.Region})
	require.NoError(t, err)
	assert.Nil(t, lock, "S3 lock left")
}

// checkTFVars asserts that the runtime tfvars are whole and no temporary
// file is left.
func checkTFVars(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "terraform.runtime.tfvars"))
	require.NoError(t, err, "runtime tfvars")
	_, err = tfvars.Parse(data, tfvars.HCL)
	assert.NoError(t, err, "the runtime tfvars parse")
	tmp, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	assert.Empty(t, tmp, "temporary files left in the working directory")
}

// checkAudit asserts that every operation that began an attempt has its
// audit record, ended.
func (h *harness) checkAudit(t *testing.T, ctx context.Context, s *server, m *mode) {
	t.Helper()
	var store audit.Store = audit.NewDirStore(filepath.Join(m.workdir, ".lablink", "audit"))
	if m.s3 {
		store = audit.NewS3Store(h.minio.S3Client(t), h.bucket, &audit.S3Options{Prefix: "audit"})
	}
	trail := audit.NewTrail(store, nil)
	var ops []op
	_, err := s.do(http.MethodGet, "/api/operations?limit=200", nil, &ops)
	require.NoError(t, err)
	for _, o := range ops {
		if o.LaunchID == "" {
			continue
		}
		rec, _, err := trail.Show(ctx, "prod", o.LaunchID)
		if !assert.NoError(t, err, "audit record of operation %d (%s)", o.ID, o.LaunchID) {
			continue
		}
		assert.NotEqual(t, audit.OutcomeStarted, rec.Outcome, "operation %d (%s, %s): its audit record never ended", o.ID, o.LaunchID, o.Status)
	}
}

// destroy destroys the fleet, to keep the rounds short.
func (h *harness) destroy(t *testing.T, ctx context.Context, s *server) {
	t.Helper()
	var a struct {
		JobID int64 `json:"job_id"`
	}
	_, err := s.do(http.MethodPost, "/api/destroy", map[string]any{}, &a)
	require.NoError(t, err, "destroy")
	o, err := s.final(ctx, a.JobID)
	require.NoError(t, err)
	require.Equal(t, "succeeded", o.Status, "destroy: %+v\n%s", o, s.log)
}

// restoreNewest restores the newest good copy of dir's state.
func restoreNewest(t *testing.T, dir string) {
	t.Helper()
	copies, err := tfstate.Copies(dir)
	require.NoError(t, err)
	require.NotEmpty(t, copies, "a refused state with no good copy: %v", tfstate.Check(dir))
	d := tfstate.Diff(dir, copies[0])
	t.Logf("restore %s: now %s; the copy %s; +%d -%d resources", copies[0].Path, d.Current, d.Restored, len(d.Added), len(d.Removed))
	replaced, err := tfstate.Restore(dir, copies[0], time.Now())
	require.NoError(t, err)
	t.Logf("the refused state is kept as %s", replaced)
	require.NoError(t, tfstate.Check(dir))
}
