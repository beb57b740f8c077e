package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

// launchDoc is the JSON document of launch.
type launchDoc struct {
	// LaunchID names the audit record; Op the operation record.
	LaunchID     string             `json:"launch_id"`
	Op           int64              `json:"op"`
	Workdir      string             `json:"workdir"`
	Existing     int                `json:"existing"`
	Requested    int                `json:"requested"`
	Total        int                `json:"total"`
	AllocatorURL string             `json:"allocator_url,omitempty"`
	GPU          *gpuDoc            `json:"gpu,omitempty"`
	TFVars       string             `json:"tfvars,omitempty"`
	TFVarsSHA256 string             `json:"tfvars_sha256,omitempty"`
	Plan         *audit.PlanSummary `json:"plan,omitempty"`
	// Audit is where the audit record is: a path or an s3:// URL.
	Audit           string      `json:"audit,omitempty"`
	DurationSeconds float64     `json:"duration_seconds"`
	Orphans         []orphanDoc `json:"orphans,omitempty"`
	// Recovery says what was taken over from an earlier run that died.
	Recovery []string `json:"recovery,omitempty"`
	failed
}

const launchJSON = `JSON (--json): {"launch_id", "op", "workdir", "existing", "requested", "total",
"allocator_url", "gpu", "tfvars", "tfvars_sha256", "plan": {"add", "change",
"destroy", "replace"}, "audit", "duration_seconds", "orphans", "recovery", "error"};
an interrupted launch's error has "interrupted": true, "created", "planned" and
"state_vms"; see JSON.md.
`

func (c *cli) launch(ctx context.Context, args []string) error {
	fset := c.newFlags("launch", "--count N --workdir DIR [flags]", launchJSON)
	w := addWorkFlags(fset, c.getenv)
	count := fset.Int("count", 0, "client VMs to add (required)")
	module := fset.String("module", "local", "module to put into a workdir that holds none, and to compare one it holds with: local, aws, or a directory to copy")
	gpuMode := fset.String("gpu", "", setup.GPUUsage)
	envs := addEnvFlags(fset)
	if err := noArgs(fset, args); err != nil {
		return err
	}
	p, err := c.prepareLaunch(ctx, isSet(fset, "count"), *count, *module, *gpuMode, w, envs)
	if err != nil {
		return err
	}
	if err := c.installModule(w.workdir, p.mod); err != nil {
		return err
	}
	pp := newProgressPrinter(c.stderr)
	l, notes, err := c.openLauncher(ctx, w, p.aws, p.cfg, p.env, p.det, pp.update, false)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := checkTotal(ctx, l, *count, w.state.RequestLimit(), p.limit); err != nil {
		return err
	}
	stop := c.sayInterrupt(ctx, "launch")
	res, err := l.Launch(ctx, launcher.Request{Count: *count, Actor: w.actor})
	stop()
	pp.finish()
	doc := launchDoc{LaunchID: res.LaunchID, Op: res.Op, Workdir: w.workdir, Existing: res.Existing, Requested: res.Requested,
		Total: res.Total, AllocatorURL: res.AllocatorURL, TFVarsSHA256: res.TFVarsSHA256, Audit: res.Audit,
		DurationSeconds: res.Duration.Seconds(), Orphans: orphanDocs(res.Orphans), Recovery: notes}
	if res.GPU.InstanceType != "" {
		g := newGPUDoc(res.GPU)
		doc.GPU = &g
	}
	if res.TFVarsSHA256 != "" {
		doc.TFVars, doc.Plan = l.TFVarsPath(), &res.Plan
	}
	if err != nil {
		return c.launchFailed(ctx, &doc, res, err)
	}
	return c.emit(doc, func(out io.Writer) error {
		fmt.Fprintf(out, "launch:     %s succeeded in %s\n", res.LaunchID, res.Duration.Round(time.Millisecond))
		fmt.Fprintf(out, "client VMs: %d existing + %d requested = %d total\n", res.Existing, res.Requested, res.Total)
		fmt.Fprintf(out, "allocator:  %s\n", res.AllocatorURL)
		fmt.Fprintf(out, "gpu:        %s %s\n", res.GPU.InstanceType, describeGPU(res.GPU))
		fmt.Fprintf(out, "tfvars:     %s (sha256 %s)\n", l.TFVarsPath(), res.TFVarsSHA256)
		fmt.Fprintf(out, "plan:       %d to add, %d to change, %d to destroy, %d to replace\n",
			res.Plan.Add, res.Plan.Change, res.Plan.Destroy, res.Plan.Replace)
		fmt.Fprintf(out, "audit:      %s\n", res.Audit)
		return nil
	})
}

// launchFailed reports a launch that failed or was interrupted.
func (c *cli) launchFailed(ctx context.Context, doc *launchDoc, res launcher.Result, err error) error {
	switch {
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		ie := interrupted("launch", err)
		ie.hint = fmt.Sprintf("%s status --workdir %s lists the VMs the state holds, and the next launch adds to them", progName, doc.Workdir)
		err = ie
	case errors.Is(err, launcher.ErrInvalidCount):
		err = badInput("--count", "--count %d: %v", res.Requested, err)
	default:
		err = restoreHint(err, doc.Workdir)
	}
	if res.LaunchID != "" && !c.json {
		fmt.Fprintf(c.stderr, "launch: %s did not succeed; audit record: %s\n", res.LaunchID, res.Audit)
	}
	if res.LaunchID == "" {
		return err
	}
	return c.fail("launch", doc, &doc.failed, err)
}

// launchPlan is what launch checked before writing anything.
type launchPlan struct {
	mod *terraform.Module
	cfg lablink.Config
	env clientvars.Env
	aws *setup.AWS
	det launcher.GPUDetector
	// limit is the module's InstanceLimit, 0 for none.
	limit int
}

// prepareLaunch runs every check of a launch that can run before the
// working directory is touched: the flags, the count against --max-count
// and the module's limit, the binary, the config, the run-time inputs, a
// render for the module that will be applied (naming a variable nothing
// supplies), and the GPU answer (an unknown instance type). A refused
// request leaves nothing behind.
func (c *cli) prepareLaunch(ctx context.Context, countSet bool, count int, module, gpuMode string, w *workFlags, envs *envFlags) (launchPlan, error) {
	var p launchPlan
	switch {
	case !countSet:
		return p, badInput("--count", "--count is required: how many client VMs to add")
	case count < 1:
		return p, badInput("--count", "--count %d: want at least 1", count)
	}
	if err := w.check(false); err != nil {
		return p, err
	}
	if err := countError(setup.CheckCount(count, w.state.RequestLimit(), 0, -1)); err != nil {
		return p, err
	}
	if err := w.findBinary(); err != nil {
		return p, err
	}
	mod, files, err := launchModule(w.workdir, module)
	if err != nil {
		return p, err
	}
	if p.cfg, err = c.loadConfig(w.config); err != nil {
		return p, err
	}
	p.mod, p.env = mod, c.env(envs, w.config)
	if err := requireIP(p.env); err != nil {
		return p, err
	}
	schema, err := tfvars.LoadSchemaFS(files, ".")
	if err != nil {
		return p, invalid(fmt.Errorf("the module to apply: %w", err))
	}
	if p.env, err = clientvars.DiscoverSecurityGroup(ctx, p.env, schema, nil); err != nil {
		return p, err
	}
	if p.limit, err = setup.InstanceLimit(files); err != nil {
		return p, err
	}
	if err := countError(setup.CheckCount(count, w.state.RequestLimit(), p.limit, -1)); err != nil {
		return p, err
	}
	if err := setup.CheckLaunch(p.cfg, p.env, schema, count); err != nil {
		return p, invalid(c.blame(err, p.env))
	}
	p.aws = &setup.AWS{Region: p.cfg.App.Region}
	if p.det, err = c.chooseDetector(ctx, gpuMode, p.aws, "launch"); err != nil {
		return p, err
	}
	// The GPU answer too: an unknown instance type is invalid input. The
	// detectors cache, so the launch itself asks no second time.
	if _, _, err := c.resolve(ctx, p.cfg, p.env, p.det); err != nil {
		return p, err
	}
	return p, nil
}

// checkTotal checks, before the plan, that the VMs the state holds and
// count more fit the module's limit (0 for none). A state that cannot be
// read is left to the launch, which names the file and its copy.
func checkTotal(ctx context.Context, l *launcher.Launcher, count, maxCount, limit int) error {
	if limit == 0 {
		return nil
	}
	pv, err := l.Preview(ctx, count)
	if err != nil {
		return nil
	}
	return countError(setup.CheckCount(count, maxCount, limit, pv.Existing))
}

// countError names --count in a *setup.CountError and says what to ask
// for instead.
func countError(err error) error {
	var ce *setup.CountError
	if !errors.As(err, &ce) {
		return err
	}
	switch {
	case ce.Limit == 0:
		return badInput("--count", "--count %d: one launch adds at most %d VMs (--max-count); ask for fewer, or raise --max-count",
			ce.Count, ce.Max)
	case ce.Existing < 0:
		return badInput("--count", "--count %d: the module holds at most %d VMs in all (OpenTofu's range() over instance_count); ask for at most %d",
			ce.Count, ce.Limit, ce.Limit)
	}
	return badInput("--count", "--count %d: the state holds %d client VMs and the module at most %d in all (OpenTofu's range() over instance_count); ask for at most %d",
		ce.Count, ce.Existing, ce.Limit, max(ce.Limit-ce.Existing, 0))
}
