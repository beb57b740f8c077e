// Package tfvars writes Go-computed values as a variable-definitions file
// that OpenTofu (or Terraform) reads with -var-file, checks those values
// against the variable blocks of the module that will receive them, and
// proves that the file on disk says exactly what was intended.
//
// The package knows nothing about any particular module. A typical caller:
//
//  1. loads the module's declarations with [LoadSchema] (or [LoadSchemaFS]
//     for an embedded module);
//  2. builds a map of cty values and calls [Schema.Check], which reports
//     every undeclared name, missing required variable, type mismatch and
//     forbidden null at once;
//  3. renders the values with [Render], as native HCL syntax (.tfvars) or
//     JSON (.tfvars.json);
//  4. parses the bytes back with [Verify], which proves that the file holds
//     exactly the values meant (and that values bound to a configuration
//     field equal it), so that escaping mistakes cannot reach OpenTofu
//     unnoticed;
//  5. writes the file with [WriteFile], atomically and with mode 0600.
//
// [Schema.Drift] compares module defaults with the defaults a caller
// believes in, and [Schema.Redact] hides sensitive variables before a copy
// of the values is stored for audit.
//
// # Compatibility with OpenTofu
//
// Parsing and conversion follow what OpenTofu does with a -var-file: each
// top-level attribute is evaluated without an evaluation context, so
// references and function calls are errors, template directives such as
// %{if true}x%{endif} are still evaluated, and strings in JSON files are
// taken literally. Values are converted to the declared type with
// cty/convert after optional-attribute defaults are applied, so, as in
// OpenTofu, the string "true" is accepted for a bool variable.
//
// Render never relies on those template rules: hclwrite escapes every "${"
// and "%{" (as "$${" and "%%{"), quotes, backslashes and control
// characters, so a rendered string always reads back byte for byte.
//
// All functions are safe for concurrent use. A *Schema is immutable after
// loading.
package tfvars
