package planread_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/lablink-go/lablink/internal/planread"
	"github.com/lablink-go/lablink/plancheck"
)

func ExampleRead() {
	// What `tofu show -json` printed for a saved plan; r may as well be
	// the command's stdout.
	f, err := os.Open("../../plancheck/testdata/plans/forget-create.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	p, err := planread.Read(f, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v, %d prior resources\n", p.Summary, len(p.Prior))
	var refused *plancheck.RefusedError
	if errors.As(p.Check(), &refused) {
		for _, v := range refused.Violations {
			fmt.Println(v.Address, v.Actions)
		}
	}
	// Output:
	// {Add:0 Change:0 Destroy:0 Replace:2}, 2 prior resources
	// terraform_data.lablink_vm[0] [forget create]
	// terraform_data.lablink_vm[1] [forget create]
}

func ExampleReadEvents() {
	// What `tofu plan -json -out=PLANFILE` printed (tfexec's PlanJSON
	// writes it to its writer).
	for _, name := range []string{"create", "update"} {
		f, err := os.Open("testdata/events/" + name + ".jsonl")
		if err != nil {
			fmt.Println(err)
			return
		}
		p, err := planread.ReadEvents(f, nil)
		f.Close()
		switch {
		case errors.Is(err, planread.ErrNeedsSavedPlan):
			fmt.Println(name + ": read the saved plan (show -json, then planread.Read)")
		case err != nil:
			fmt.Println(err)
		default:
			fmt.Printf("%s: %+v, verdict %v\n", name, p.Summary, p.Check())
		}
	}
	// Output:
	// create: {Add:1 Change:0 Destroy:0 Replace:0}, verdict <nil>
	// update: read the saved plan (show -json, then planread.Read)
}
