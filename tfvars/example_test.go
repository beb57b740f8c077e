package tfvars_test

import (
	"errors"
	"fmt"
	"os"
	"testing/fstest"

	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink/tfvars"
)

func ExampleRender() {
	values := map[string]cty.Value{
		"machine_type":   cty.StringVal("g4dn.xlarge"),
		"gpu_support":    cty.True,
		"instance_count": cty.NumberIntVal(3),
		// Hostile input stays inert: quotes, newlines and template
		// introducers are escaped, and $(...) is just text to OpenTofu.
		"repository": cty.StringVal("x\"\n${var.secret} $(id)"),
	}
	out, err := tfvars.Render(values, &tfvars.Options{
		Order:  []string{"machine_type"},
		Header: "Generated; do not edit.",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	os.Stdout.Write(out)

	// The file says exactly what was meant.
	fmt.Println(tfvars.Verify(out, tfvars.HCL, values, nil))
	// Output:
	// # Generated; do not edit.
	//
	// machine_type   = "g4dn.xlarge"
	// gpu_support    = true
	// instance_count = 3
	// repository     = "x\"\n$${var.secret} $(id)"
	// <nil>
}

func ExampleSchema_Check() {
	module := fstest.MapFS{"variables.tf": {Data: []byte(`
variable "gpu_support" {
  type = bool
}
variable "instance_count" {
  type     = number
  nullable = false
}
variable "region" {
  type = string
}
`)}}
	schema, err := tfvars.LoadSchemaFS(module, ".")
	if err != nil {
		fmt.Println(err)
		return
	}
	err = schema.Check(map[string]cty.Value{
		"gpu_support":    cty.StringVal("true"), // converts, as in OpenTofu
		"instance_count": cty.NullVal(cty.Number),
		"machine_typ":    cty.StringVal("g4dn.xlarge"),
	})
	fmt.Println(err)
	// Output:
	// variable "instance_count": null not allowed (nullable = false)
	// variable "machine_typ": not declared by the module
	// variable "region": required but not set (declared at variables.tf:9,1-18)
}

func ExampleVerify() {
	// What was rendered: the file holds exactly these values...
	want := map[string]cty.Value{
		"machine_type":   cty.StringVal("t2.medium"),
		"instance_count": cty.NumberIntVal(2),
	}
	src, err := tfvars.Render(want, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// ...but a value computed from the configuration disagrees with its
	// configuration field, and the mismatch names the field.
	bound := []tfvars.Expectation{
		{Variable: "machine_type", Source: "machine.machine_type", Value: cty.StringVal("g4dn.xlarge")},
		{Variable: "instance_count", Source: "request", Value: cty.NumberIntVal(2)},
	}
	err = tfvars.Verify(src, tfvars.HCL, want, bound)
	var mismatch *tfvars.MismatchError
	if errors.As(err, &mismatch) {
		fmt.Println(mismatch.Variable, "from", mismatch.Source)
	}
	fmt.Println(err)
	// Output:
	// machine_type from machine.machine_type
	// verify tfvars: machine_type = "t2.medium" but machine.machine_type = "g4dn.xlarge"
}

func ExampleParse() {
	// Parse reads a -var-file as OpenTofu does: no references, but a
	// template directive without references is still evaluated.
	vals, err := tfvars.Parse([]byte("region = \"%{if true}us-west-2%{endif}\"\ncount  = 3\n"), tfvars.HCL)
	fmt.Println(tfvars.Literal(vals["region"]), tfvars.Literal(vals["count"]), err)

	_, err = tfvars.Parse([]byte(`region = "${var.region}"`), tfvars.HCL)
	fmt.Println(err != nil)
	// Output:
	// "us-west-2" 3 <nil>
	// true
}
