package clientvars

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink/tfvars"
)

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
