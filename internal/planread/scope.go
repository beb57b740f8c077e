package planread

import (
	"errors"
	"slices"

	"github.com/lablink-go/lablink/internal/planscope"
	"github.com/lablink-go/lablink/plancheck"
)

// scope is what a reader needs of the Options it reads with: which
// changes plancheck.Check reads the values of, and a copy of the Options
// for Plan.Check.
type scope struct {
	vms  planscope.VMs
	opts *plancheck.Options
}

// scopeOf validates opts (nil means the defaults) as plancheck.Check does,
// and returns its scope. The copy of opts shares nothing with the
// caller's.
func scopeOf(opts *plancheck.Options) (*scope, error) {
	if err := plancheck.Check(nil, opts); err != nil {
		return nil, err // the invalid options, named
	}
	sc := &scope{opts: &plancheck.Options{}}
	if opts != nil {
		// The whole struct, so that a field added to Options is kept;
		// then each slice, so that nothing is shared.
		c := *opts
		c.ClientVMs = slices.Clone(c.ClientVMs)
		c.HarmlessUpdates = slices.Clone(c.HarmlessUpdates)
		c.Ports = slices.Clone(c.Ports)
		c.PublicCIDRs = slices.Clone(c.PublicCIDRs)
		sc.opts = &c
	}
	vms := sc.opts.ClientVMs
	if len(vms) == 0 {
		vms = plancheck.DefaultClientVMs() // as Options.ClientVMs documents
	}
	var errs []error
	if sc.vms, errs = planscope.ParseVMs(vms); len(errs) > 0 {
		return nil, errors.Join(errs...) // Check has refused these already
	}
	return sc, nil
}

func (sc *scope) needsValues(c plancheck.Change) bool {
	return sc.vms.NeedsValues(c.Mode, c.Type, c.Name, c.Actions)
}
