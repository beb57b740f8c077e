package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/smithy-go"
)

type statusResponse struct {
	VMs    int       `json:"vms"`
	TFVars bool      `json:"tfvars"`
	Busy   bool      `json:"busy"` // a launch or destroy is running
	Last   *lastJSON `json:"last"`
	// Orphans are client VMs the cloud holds and the state does not,
	// each with the commands that import or terminate it.
	Orphans []orphanJSON `json:"orphans"`
	// StateError says why the launcher refuses to plan from the local
	// state (restore its last good copy), "" when it is sound.
	StateError string `json:"state_error,omitempty"`
	// InventoryError says that the cloud's inventory could not be read,
	// so orphans are unknown, "" when it was.
	InventoryError string `json:"inventory_error,omitempty"`
}

type orphanJSON struct {
	Name      string `json:"name"`
	ID        string `json:"id"`
	Index     int    `json:"index"`
	LaunchID  string `json:"launch_id"`
	Import    string `json:"import,omitempty"`
	Terminate string `json:"terminate"`
}

// lastJSON is the part of the newest audit manifest that status shows.
// The manifest's error text is left out: it can hold OpenTofu's stderr.
type lastJSON struct {
	LaunchID     string    `json:"launch_id"`
	Operation    string    `json:"operation"`
	Actor        string    `json:"actor"`
	Started      time.Time `json:"started"`
	Duration     string    `json:"duration"`
	Outcome      string    `json:"outcome"`
	Requested    int       `json:"requested"`
	Existing     int       `json:"existing"`
	Total        int       `json:"total"`
	TFVarsSHA256 string    `json:"tfvars_sha256"`
}

// status is GET /api/status.
func (s *server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.l.Status(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "status failed", "err", err)
		writeError(w, http.StatusInternalServerError, "status failed; see the server log")
		return
	}
	resp := statusResponse{VMs: len(st.VMs), TFVars: st.TFVars, Busy: st.Busy, Orphans: []orphanJSON{}}
	for _, o := range st.Orphans {
		resp.Orphans = append(resp.Orphans, orphanJSON{o.Name, o.ID, o.Index, o.LaunchID, o.Import, o.Terminate})
	}
	if st.State != nil {
		resp.StateError = "the local state cannot be planned from; restore its last good copy (lablink restore-state); see the server log"
		s.log.ErrorContext(r.Context(), "state refused", "err", st.State)
	}
	resp.InventoryError = s.inventoryError(r.Context(), st.InventoryError)
	if m := st.Last; m != nil {
		resp.Last = &lastJSON{m.LaunchID, string(m.Action), m.Actor, m.Started, m.Duration, string(m.Outcome),
			m.Requested, m.Existing, m.Total, m.TFVarsSHA256}
	}
	writeJSON(w, http.StatusOK, resp)
}

// inventoryError is what the server says when the cloud's inventory
// could not be read (err, which it logs), "" when err is nil: the AWS
// error code when there is one (ExpiredToken, UnauthorizedOperation),
// never the error's text, which can name paths of the working directory.
func (s *server) inventoryError(ctx context.Context, err error) string {
	if err == nil {
		return ""
	}
	s.log.ErrorContext(ctx, "list the inventory", "err", err)
	msg := "the cloud's inventory could not be read, so VMs the cloud holds and the state does not are unknown"
	var api smithy.APIError
	if errors.As(err, &api) {
		msg += " (AWS answered " + api.ErrorCode() + ")"
	}
	return msg + "; see the server log"
}
