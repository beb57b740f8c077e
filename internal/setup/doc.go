// Package setup holds what both adapters (examples/cli and examples/http)
// do alike to wire the library from their flags: load the SDK's AWS
// configuration, quietly; choose the GPU detector that a --gpu flag names,
// asking the SDK once, within one timeout, whether AWS credentials are to
// be had; and check the config and environment before anything is
// written, without asking EC2.
//
// Putting the client module into a working directory is
// examples/terraform's Module.Install.
package setup
