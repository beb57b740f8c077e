package main

import (
	"context"
	"strconv"

	"github.com/lablink-go/lablink/audit"
)

// launchResponse is the answer to POST /api/launch?wait=1 once the launch
// succeeded. It names the audit record by its id (launch_id), never by
// where the server keeps it.
type launchResponse struct {
	LaunchID string `json:"launch_id"`
	// NumVMs is what this request asked for; Requested is the sum over
	// every request merged into the same apply.
	NumVMs       int      `json:"num_vms"`
	Existing     int      `json:"existing"`
	Requested    int      `json:"requested"`
	Total        int      `json:"total"`
	Merged       int      `json:"merged"`
	AllocatorURL string   `json:"allocator_url"`
	GPU          gpuJSON  `json:"gpu"`
	TFVarsSHA256 string   `json:"tfvars_sha256"`
	Plan         planJSON `json:"plan"`
	Duration     string   `json:"duration"`
}

// gpuJSON is the GPU answer the launch used, as its audit record keeps it.
type gpuJSON struct {
	InstanceType string `json:"instance_type"`
	NVIDIA       bool   `json:"nvidia"`
	Source       string `json:"source"`
}

type planJSON struct {
	Create  int `json:"create"`
	Update  int `json:"update"`
	Delete  int `json:"delete"`
	Replace int `json:"replace"`
}

type destroyResponse struct {
	LaunchID  string `json:"launch_id"`
	Destroyed int    `json:"destroyed"`
	Duration  string `json:"duration"`
}

// launchResult is the result of the succeeded launch op, read back from
// the audit record of its apply (launcher.Service.Record) and from the
// operations that apply carried. A record that cannot be read leaves
// the fields it would fill zero; the launch did succeed.
func (s *server) launchResult(ctx context.Context, op audit.Op, n int) launchResponse {
	// The allocator URL is the server's own, and the same for every
	// launch; the record's copy of the tfvars holds it redacted.
	res := launchResponse{LaunchID: op.LaunchID, NumVMs: n, Merged: s.merged(ctx, op), AllocatorURL: s.opts.AllocatorURL}
	m, _, err := s.l.Record(ctx, op.LaunchID)
	if err != nil {
		s.log.WarnContext(ctx, "read the audit record of a launch", "launch_id", op.LaunchID, "err", err)
		return res
	}
	res.Existing, res.Requested, res.Total = m.Existing, m.Requested, m.Total
	res.TFVarsSHA256, res.Duration = m.TFVarsSHA256, m.Duration
	if g := m.GPU; g != nil {
		res.GPU = gpuJSON{g.InstanceType, g.NVIDIA, g.Source}
	}
	if p := m.Plan; p != nil {
		res.Plan = planJSON{p.Add, p.Change, p.Destroy, p.Replace}
	}
	return res
}

// merged counts the operations the apply of op carried, op included,
// among the newest operations (merged requests are queued together).
func (s *server) merged(ctx context.Context, op audit.Op) int {
	ops, _, err := s.l.Ops(ctx, audit.OpQuery{Limit: maxOpsLimit})
	if err != nil {
		return 1
	}
	n := 0
	for _, o := range ops {
		if o.LaunchID == op.LaunchID {
			n++
		}
	}
	return max(n, 1)
}

// destroyResult is the result of the succeeded destroy op.
func (s *server) destroyResult(ctx context.Context, op audit.Op) destroyResponse {
	res := destroyResponse{LaunchID: op.LaunchID}
	m, _, err := s.l.Record(ctx, op.LaunchID)
	if err != nil {
		s.log.WarnContext(ctx, "read the audit record of a destroy", "launch_id", op.LaunchID, "err", err)
		return res
	}
	// The record counts the client VMs the state held before: a destroy
	// that succeeded removed them all.
	res.Destroyed, res.Duration = m.Existing, m.Duration
	return res
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
