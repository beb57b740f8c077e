// Package bootsim runs a client VM's rendered boot script (the user_data
// of the client module) the way cloud-init would, but unprivileged and
// offline: under bash, with every path below a temporary root
// (LABLINK_ROOT), and with the commands a boot script might call replaced
// by stubs that record their arguments instead of acting.
//
// PATH holds nothing but those stubs and links to a few real [Tools], so a
// command that is neither is "not found". The stubs cover the commands the
// script is meant to call ([Expected]: curl, docker, systemctl, and
// nvidia-smi when [Options].NvidiaSMI says the AMI has it), which answer
// like a healthy EC2 instance and allocator would, and a tripwire set
// ([Tripwires]) of commands an injected value would reach for (wget,
// apt-get, sudo, rm, touch, id, pwned, ...). A safe script calls only the
// former, with exactly the expected arguments.
package bootsim
