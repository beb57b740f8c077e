package launcher

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink"

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

// SetBindingValue replaces the value function of the binding for variable
// until the returned function is called, to prove that verification does
// not trust the bindings. Not safe while a render runs.
func SetBindingValue(variable string, f func(in *Inputs) cty.Value) (restore func()) {
	for i := range bindings {
		if bindings[i].variable == variable {
			old := bindings[i].value
			bindings[i].value = func(in *Inputs) (cty.Value, bool) { return f(in), true }
			return func() { bindings[i].value = old }
		}
	}
	panic("no binding for " + variable)
}

// VerifyFile runs the verification of Render on data, an HCL file
// rendered for in with the values vals.
func VerifyFile(data []byte, in Inputs, vals map[string]cty.Value) error {
	return verify(data, tfvars.HCL, &in, vals)
}

// ConfigDigest is the digest an audit manifest records for cfg.
func ConfigDigest(cfg lablink.Config) string { return configDigest(cfg) }
