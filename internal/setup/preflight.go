package setup

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"regexp"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

// DefaultMaxCount is the most VMs one request may ask for when
// --max-count is not given: the launcher's own default.
const DefaultMaxCount = launcher.DefaultMaxCount

// RequestLimit is the most VMs one request may ask for under --max-count:
// its value, or DefaultMaxCount when it is 0.
func (f State) RequestLimit() int {
	return cmp.Or(f.MaxCount, DefaultMaxCount)
}

// RangeLimit is the most elements OpenTofu's range() function returns
// (cty's stdlib refuses a 1025th with "more than 1024 values were
// generated"). A module that builds one value per VM with
// range(var.instance_count), as ours and upstream's do for the user_data
// of each VM, fails to plan beyond it.
const RangeLimit = 1024

// rangeOfCount is a call of range() over instance_count.
var rangeOfCount = regexp.MustCompile(`\brange\(\s*var\.instance_count\s*\)`)

// InstanceLimit returns the most VMs the module in fsys can hold in all:
// RangeLimit when one of its *.tf files calls range(var.instance_count),
// else 0 for no limit known.
func InstanceLimit(fsys fs.FS) (int, error) {
	files, err := fs.Glob(fsys, "*.tf")
	if err != nil {
		return 0, err
	}
	for _, name := range files {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return 0, err
		}
		if rangeOfCount.Match(data) {
			return RangeLimit, nil
		}
	}
	return 0, nil
}

// CheckLaunch runs every check of a launch of count VMs that needs
// neither OpenTofu nor the cloud, and writes nothing: the config, the
// run-time inputs of env (each problem naming its variable), and a render
// for count VMs against schema, so that a variable the module requires
// and nothing supplies (allocator_sg_id off EC2) is named before the
// working directory is touched. Tokens env leaves unset stand in for
// those the working directory will keep. It is what launcher.Open checks
// before it writes, run before an adapter installs the module; GPU
// support is left false (the detector answers at the launch).
func CheckLaunch(cfg lablink.Config, env clientvars.Env, schema *tfvars.Schema, count int) error {
	if env.AgentToken == "" || env.RegisterToken == "" {
		t, err := clientvars.NewTokens()
		if err != nil {
			return err
		}
		env.AgentToken = cmp.Or(env.AgentToken, t.Agent)
		env.RegisterToken = cmp.Or(env.RegisterToken, t.Register)
	}
	in, err := clientvars.CheckInputs(cfg, env)
	if err != nil {
		return err
	}
	in.InstanceCount = count
	_, err = clientvars.Render(schema, in, tfvars.HCL)
	return err
}

// CountError is a request for more VMs than allowed: more than Max in one
// request (MaxCount), or more than Limit in all, Existing included (the
// module's InstanceLimit). Adapters name their own input (--count,
// num_vms).
type CountError struct {
	Count int
	// Max is the request limit; Limit the module's, 0 when the error is
	// about Max.
	Max, Limit int
	// Existing VMs when the error is about Limit, -1 when not known yet.
	Existing int
}

// ErrTooMany is the condition of every CountError.
var ErrTooMany = errors.New("too many VMs")

func (e *CountError) Error() string {
	switch {
	case e.Limit == 0:
		return fmt.Sprintf("%d VMs: one launch adds at most %d", e.Count, e.Max)
	case e.Existing < 0:
		return fmt.Sprintf("%d VMs: the module holds at most %d VMs in all (OpenTofu's range() limit)", e.Count, e.Limit)
	}
	return fmt.Sprintf("%d VMs: the state holds %d and the module at most %d in all (OpenTofu's range() limit); at most %d more fit",
		e.Count, e.Existing, e.Limit, max(e.Limit-e.Existing, 0))
}

func (e *CountError) Unwrap() error { return ErrTooMany }

// CheckCount checks a request for count VMs against the request limit max
// and the module's limit (0 for none), existing VMs included when
// existing is not negative.
func CheckCount(count, maxCount, limit, existing int) error {
	if count > maxCount {
		return &CountError{Count: count, Max: maxCount, Existing: existing}
	}
	if limit > 0 && max(existing, 0)+count > limit {
		return &CountError{Count: count, Max: maxCount, Limit: limit, Existing: existing}
	}
	return nil
}
