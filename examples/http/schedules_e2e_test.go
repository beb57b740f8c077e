package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/schedule"
)

// scheduleLead is how far ahead the end-to-end tests schedule a destroy:
// enough for the request to arrive before the time, as issue 19 asks.
const scheduleLead = 5 * time.Second

// destroyIn returns a body for POST /api/schedule-destruction due lead
// from now (whole seconds, "Z"), and that time.
func destroyIn(name string, lead time.Duration) (string, time.Time) {
	due := time.Now().Add(lead).UTC().Truncate(time.Second)
	return fmt.Sprintf(`{"schedule_name": %q, "destruction_time": %q, "recurrence_rule": null}`,
		name, due.Format("2006-01-02T15:04:05Z")), due
}

// scheduleCall sends an authenticated request (a JSON body unless ""),
// requires a 200 and returns the answer.
func (c e2eClient) scheduleCall(method, path, body string) scheduleAnswer {
	c.t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	resp, b := c.request(method, path, ct, "", body)
	require.Equal(c.t, http.StatusOK, resp.StatusCode, "%s %s: %s", method, path, b)
	var a scheduleAnswer
	require.NoError(c.t, json.Unmarshal(b, &a), "%s %s: %s", method, path, b)
	return a
}

// createSchedule posts body to path as upstream's page does and returns
// the new schedule's id.
func (c e2eClient) createSchedule(path, body string) int64 {
	c.t.Helper()
	a := c.scheduleCall(http.MethodPost, path, body)
	require.True(c.t, a.Success, "create schedule: %+v", a)
	return a.ScheduleID
}

// schedule reads schedule id of the destruction route.
func (c e2eClient) schedule(id int64) scheduleAnswer {
	c.t.Helper()
	return c.scheduleCall(http.MethodGet, fmt.Sprintf("/api/schedule-destruction/%d", id), "")
}

// scheduleSettled polls schedule id until it is neither scheduled nor
// executing; opBound is a safety net, not a timing assertion.
func (c e2eClient) scheduleSettled(id int64) scheduleAnswer {
	c.t.Helper()
	var a scheduleAnswer
	require.Eventually(c.t, func() bool {
		a = c.schedule(id)
		return a.Schedule.Status != schedule.StatusScheduled && a.Schedule.Status != schedule.StatusExecuting
	}, opBound, 100*time.Millisecond, "schedule %d never settled", id)
	return a
}

// scheduledOps returns the operations that link to occurrence due of
// schedule id.
func scheduledOps(ops []opJSON, id int64, due time.Time) []opJSON {
	link := fmt.Sprintf("%d@%s", id, due.Format(time.RFC3339))
	var out []opJSON
	for _, op := range ops {
		if op.Params["schedule"] == link {
			out = append(out, op)
		}
	}
	return out
}

// TestScheduledDestroyEndToEnd runs the real server with a real OpenTofu
// on the local module: a one-off destroy scheduled 5 s ahead through
// upstream's route destroys the VMs, is an operation linked to its
// schedule, and the schedule reads completed.
func TestScheduledDestroyEndToEnd(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu")
	s := startRun(t, testEnv(), "--config", writeConfig(t, testConfig()), "--workdir", filepath.Join(t.TempDir(), "client"),
		"--addr", "127.0.0.1:0", "--terraform", tofu, "--gpu", "catalog")
	c := s.client()
	require.Equal(t, 2, c.launch(2).Total, "launch")

	body, due := destroyIn("end of lab", scheduleLead)
	id := c.createSchedule("/api/schedule-destruction", body)
	a := c.scheduleSettled(id)
	assert.Equal(t, schedule.StatusCompleted, a.Schedule.Status, "schedule: %+v", a.Schedule)
	assert.Equal(t, 0, c.vms(), "VMs after the scheduled destroy")

	ops := scheduledOps(c.operations(""), id, due)
	require.Len(t, ops, 1, "operations of the occurrence")
	assert.Equal(t, "destroy", ops[0].Type)
	assert.Equal(t, audit.StatusSucceeded, ops[0].Status)
	assert.Equal(t, testUser, ops[0].CreatedBy, "created_by: the schedule's creator")
	assert.Equal(t, fmt.Sprintf("completed: operation %d", ops[0].ID), a.Schedule.LastExecutionResult)
	require.Len(t, a.Occurrences, 1, "occurrence records")
	assert.Equal(t, schedule.OutcomeCompleted, a.Occurrences[0].Outcome)
	assert.Equal(t, due, a.Occurrences[0].Time.UTC())
	assert.Equal(t, exitOK, s.shutdown())
	assert.Contains(t, s.log.String(), "schedule: occurrence completed")
}

// holdApplies adds to the module in workdir a resource, created after
// the VMs, that holds every apply until the test writes gate; it touches
// started first, so that the test knows the apply is under way.
func holdApplies(t *testing.T, workdir string) (started, gate string) {
	t.Helper()
	dir := t.TempDir()
	started, gate = filepath.Join(dir, "started"), filepath.Join(dir, "gate")
	writeTestFile(t, filepath.Join(workdir, "wait_test.tf"), fmt.Sprintf(`
resource "terraform_data" "wait" {
  depends_on = [terraform_data.lablink_vm]
  provisioner "local-exec" {
    command = "touch '%s'; while [ ! -e '%s' ]; do sleep 0.05; done"
  }
}
`, started, gate))
	return started, gate
}

// waitForFile waits for path to exist; opBound is a safety net.
func waitForFile(t *testing.T, path, msg string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := os.Stat(path)
		return err == nil
	}, opBound, 50*time.Millisecond, msg)
}

// TestScheduledDestroyWaitsForLaunch: a destroy that falls due while a
// launch applies waits in the queue behind it (upstream skips it and
// marks it failed), then runs: the launch succeeds, then the destroy,
// and the schedule completes.
func TestScheduledDestroyWaitsForLaunch(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu")
	workdir := filepath.Join(t.TempDir(), "client")
	require.NoError(t, terraform.Materialize("local", workdir))
	started, gate := holdApplies(t, workdir)
	s := startRun(t, testEnv(), "--config", writeConfig(t, testConfig()), "--workdir", workdir,
		"--addr", "127.0.0.1:0", "--terraform", tofu, "--gpu", "catalog")
	c := s.client()
	launchID := c.startLaunch(2)
	waitForFile(t, started, "the apply never reached the waiting resource")

	body, due := destroyIn("during the launch", 3*time.Second)
	id := c.createSchedule("/api/schedule-destruction", body)
	var destroy []opJSON
	require.Eventually(t, func() bool {
		destroy = scheduledOps(c.operations(""), id, due)
		return len(destroy) == 1
	}, opBound, 100*time.Millisecond, "the scheduled destroy never became an operation")
	assert.Equal(t, audit.StatusQueued, destroy[0].Status, "the destroy while the launch applies")
	assert.Equal(t, audit.StatusRunning, c.operation(launchID).Status, "the launch, held")
	assert.Equal(t, schedule.StatusExecuting, c.schedule(id).Schedule.Status)

	require.NoError(t, os.WriteFile(gate, nil, 0o644))
	assert.Equal(t, audit.StatusSucceeded, c.final(launchID).Status, "the launch")
	assert.Equal(t, audit.StatusSucceeded, c.final(destroy[0].ID).Status, "the destroy, after the launch")
	a := c.scheduleSettled(id)
	assert.Equal(t, schedule.StatusCompleted, a.Schedule.Status, "schedule: %+v", a.Schedule)
	assert.Equal(t, 0, c.vms(), "VMs after the scheduled destroy")
	assert.Equal(t, exitOK, s.shutdown())
}

// TestScheduledDestroyTwoServers: two servers on one S3 state and one S3
// audit store in a real MinIO both run the schedules; a destroy scheduled
// through one is claimed by exactly one of them: one destroy operation in
// the shared list, one occurrence record, the VMs gone for both.
func TestScheduledDestroyTwoServers(t *testing.T) {
	// Both read the store every second, so that b knows the schedule a
	// creates before it is due.
	a, b, _, _ := sharedS3Servers(t, "--schedule-poll", "1s")
	ca, cb := a.client(), b.client()
	// Each launches once, so that either has the runtime tfvars a destroy
	// reads, whichever claims the occurrence.
	require.Equal(t, 1, ca.launch(1).Total, "launch on a")
	require.Equal(t, 2, cb.launch(1).Total, "launch on b")

	body, due := destroyIn("shared", scheduleLead)
	id := ca.createSchedule("/api/schedule-destruction", body)
	got := cb.scheduleSettled(id)
	assert.Equal(t, schedule.StatusCompleted, got.Schedule.Status, "schedule read on b: %+v", got.Schedule)
	require.Len(t, got.Occurrences, 1, "occurrence records")

	ops := scheduledOps(cb.operations(""), id, due)
	require.Len(t, ops, 1, "destroy operations of the occurrence in the shared list")
	assert.Equal(t, "destroy", ops[0].Type)
	assert.Equal(t, audit.StatusSucceeded, ops[0].Status)
	var destroys int
	for _, op := range ca.operations("") {
		if op.Type == "destroy" {
			destroys++
		}
	}
	assert.Equal(t, 1, destroys, "destroy operations in the shared list")
	assert.Equal(t, 0, ca.vms(), "a's VMs")
	assert.Equal(t, 0, cb.vms(), "b's VMs")

	assert.Equal(t, exitOK, a.shutdown())
	assert.Equal(t, exitOK, b.shutdown())
	claims := 0
	for _, s := range []*runningServer{a, b} {
		claims += strings.Count(s.log.String(), "schedule: occurrence claimed")
	}
	assert.Equal(t, 1, claims, "servers that claimed the occurrence")
	assert.Contains(t, got.Occurrences[0].ClaimedBy, "/127.0.0.1:", "claimed_by names the server")
}
