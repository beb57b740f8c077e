package launcher

import (
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/tfvars"
)

// SetWriteTFVars replaces the tfvars writer until the returned function is
// called. Not safe while a launch runs.
func SetWriteTFVars(f func(path string, data []byte) error) (restore func()) {
	old := writeTFVars
	writeTFVars = f
	return func() { writeTFVars = old }
}

// SetReadPlanEvents turns reading a launch's plan from its event stream on
// or off until the returned function is called: off, every plan is read
// from the saved plan. Not safe while a launch runs.
func SetReadPlanEvents(on bool) (restore func()) {
	old := readPlanEvents
	readPlanEvents = on
	return func() { readPlanEvents = old }
}

// SetRender replaces the tfvars renderer until the returned function is
// called. Not safe while a launch runs.
func SetRender(f func(*tfvars.Schema, clientvars.Inputs, tfvars.Format) (clientvars.Rendered, error)) (restore func()) {
	old := renderTFVars
	renderTFVars = f
	return func() { renderTFVars = old }
}

// Trail returns the audit trail the launcher writes to.
func (l *Launcher) Trail() *audit.Trail { return l.trail }
