// Command bench compares, in one run on one machine, what a launch costs
// through the library with what the same launch costs done by hand with
// OpenTofu, on the provider-free local module. It prints a table and, last,
// one line with the ratios; scripts/bench runs it.
//
//  1. Launch overhead. Baseline: a shell script running what a careful
//     operator runs for a launch (tofu plan -out, tofu show -json, tofu
//     apply of the saved plan) with the var-file the library rendered.
//     Measured: the same launches through one long-lived Launcher, as the
//     HTTP server runs it. Launches go to 1, 10, 100 and 500 VMs in turn,
//     in one working directory per side; each count is launched by hand and
//     through the library back to back, which side goes first alternating
//     between runs, and every row is the median of -reps runs. The CLI's
//     cold start (a fresh process, an empty workdir, init included) is
//     compared at 1 VM with init + the same three commands.
//  2. 16 concurrent launch requests against 16 sequential ones: applies
//     and wall-clock time.
//  3. EC2 requests made by 100 launches of one instance type, through the
//     real SDK client against a local EC2 Query API server.
//  4. A class created at once (issue 13): N VMs (-sleep-counts, by
//     default 10 and 100) of the local module with a create that takes a
//     fixed time (a local-exec sleep of -sleep, 2s), created from none by
//     hand with OpenTofu's default -parallelism=10 and through the library with a
//     parallelism chosen from the plan (-parallelism), against one VM by
//     hand as the floor. These rows are medians of -sleep-reps runs (1 by
//     default: the 100-VM row takes about 20 s by hand).
//
// The last line holds every ratio with the targets of issue 13. The
// numbers are only as quiet as the machine: on a shared VM, say so.
//
// Usage:
//
//	go run ./internal/cmd/bench [-reps N] [-counts 1,10,100,500]
//	    [-sleep-counts 10,100] [-sleep 2s] [-sleep-reps 1]
//	    [-parallelism auto|default|N] [-parallelism-cap 100] [-sleep-only]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/ec2fake"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

// env is the run-time input of every launch. The tokens are fixed so that
// the hand side renders the var-file the library side renders.
var env = clientvars.Env{
	AllocatorIP: "203.0.113.10", Environment: "bench", AllocatorSGID: "sg-0123456789abcdef0",
	AgentToken: "bench-agent-token-0123456789", RegisterToken: "bench-register-token-0123456789",
}

// benchConfig is the allocator's default config with plain HTTP: the
// default's ssl.provider letsencrypt needs DNS settings, which
// clientvars.Resolve refuses to do without.
func benchConfig() lablink.Config {
	c := lablink.DefaultConfig()
	c.SSL.Provider = "none"
	return c
}

func main() {
	reps := flag.Int("reps", 3, "runs per measurement; the median is reported")
	countsFlag := flag.String("counts", "1,10,100,500", "instance counts the launches go to, in order")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process (the library side's Go code) to `file`")
	sleepCountsFlag := flag.String("sleep-counts", "10,100", "VM counts of the fixed-time rows, in order; empty skips them")
	sleepFor := flag.Duration("sleep", 2*time.Second, "how long each VM's create takes in the fixed-time rows")
	sleepReps := flag.Int("sleep-reps", 1, "runs per fixed-time row; the median is reported")
	parFlag := flag.String("parallelism", "auto", "apply parallelism of the library side in the fixed-time rows: auto (launcher.Options.Parallelism 0: one per planned change, at least 10, at most -parallelism-cap), default (10, as before issue 13), or a number")
	sleepOnly := flag.Bool("sleep-only", false, "run only the fixed-time rows")
	parCap := flag.Int("parallelism-cap", 100, "launcher.Options.MaxParallelism in the fixed-time rows (EC2's RunInstances limits: docs/upstream.md)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	counts, err := parseCounts("-counts", *countsFlag)
	if err != nil {
		fail(err)
	}
	var sleepCounts []int
	if *sleepCountsFlag != "" {
		if sleepCounts, err = parseCounts("-sleep-counts", *sleepCountsFlag); err != nil {
			fail(err)
		}
	}
	par, err := parseParallelism(*parFlag, *parCap)
	if err != nil {
		fail(err)
	}
	if *sleepReps < 1 || *reps < 1 {
		fail(errors.New("-reps and -sleep-reps: want at least 1"))
	}
	ctx := context.Background()
	bin, err := tofutest.Path(ctx)
	if err != nil {
		fail(err)
	}
	b := &bench{bin: bin, tofuEnv: tofuEnv()}
	fmt.Printf("machine: %s/%s, %d CPUs, %s; %s (%s)\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), b.version(), bin)
	if *sleepOnly {
		if len(sleepCounts) == 0 {
			fail(errors.New("-sleep-only with no -sleep-counts"))
		}
		s, err := b.sleepRows(ctx, sleepCounts, *sleepReps, *sleepFor, par)
		if err != nil {
			fail(err)
		}
		fmt.Printf("\nratios: %s\n", s.print())
		return
	}

	fmt.Printf("%-34s %12s %12s %8s\n", "launch to N VMs", "tofu by hand", "library", "ratio")
	worst := 0.0
	hand := make([][]time.Duration, len(counts))
	lib := make([][]time.Duration, len(counts))
	for rep := range *reps {
		// Each count is launched by hand and through the library back to
		// back, the first side alternating between runs, so that drift in
		// the machine's speed falls on both sides alike.
		h, err := b.byHand(ctx)
		if err != nil {
			fail(err)
		}
		l, err := b.library(ctx)
		if err != nil {
			fail(err)
		}
		for i, n := range counts {
			var first, second launchSide = h, l
			if rep%2 == 1 {
				first, second = l, h
			}
			for _, side := range []launchSide{first, second} {
				if err := side.launch(ctx, n); err != nil {
					fail(err)
				}
			}
			hand[i] = append(hand[i], h.took)
			lib[i] = append(lib[i], l.took)
		}
		h.close()
		l.close()
	}
	var ratios []string
	for i, n := range counts {
		h, l := median(hand[i]), median(lib[i])
		r := float64(l) / float64(h)
		worst = max(worst, r)
		ratios = append(ratios, fmt.Sprintf("%d:%.3f", n, r))
		fmt.Printf("%-34s %12s %12s %8.3f\n", fmt.Sprintf("N = %d", n), ms(h), ms(l), r)
	}

	var coldHand, coldCLI []time.Duration
	cli, err := b.buildCLI(ctx)
	if err != nil {
		fail(err)
	}
	for range *reps {
		h, c, err := b.coldStart(ctx, cli)
		if err != nil {
			fail(err)
		}
		coldHand, coldCLI = append(coldHand, h), append(coldCLI, c)
	}
	cold := float64(median(coldCLI)) / float64(median(coldHand))
	fmt.Printf("%-34s %12s %12s %8.3f\n", "CLI cold start, N = 1 (with init)", ms(median(coldHand)), ms(median(coldCLI)), cold)

	seq, conc, applies, err := b.concurrency(ctx, 16)
	if err != nil {
		fail(err)
	}
	fmt.Printf("\n%-34s %12s %12s %8s\n", "16 launch requests of 1 VM", "sequential", "concurrent", "ratio")
	concRatio := float64(conc) / float64(seq)
	fmt.Printf("%-34s %12s %12s %8.3f\n", fmt.Sprintf("wall clock (%d vs 16 applies)", applies), ms(seq), ms(conc), concRatio)

	reqs, err := b.ec2Requests(ctx, 100)
	if err != nil {
		fail(err)
	}
	fmt.Printf("\n%-34s %12d\n", "EC2 requests for 100 launches", reqs)

	sleepLine := ""
	if len(sleepCounts) > 0 {
		s, err := b.sleepRows(ctx, sleepCounts, *sleepReps, *sleepFor, par)
		if err != nil {
			fail(err)
		}
		sleepLine = "; " + s.print()
	}

	fmt.Printf("\nratios: launch %s (worst %.3f, target <= 0.95); cli-cold %.3f (target <= 1.10); concurrent %.3f with %d applies (target < 0.25, <= 2); ec2 requests %d (target 1)%s\n",
		strings.Join(ratios, " "), worst, cold, concRatio, applies, reqs, sleepLine)
}

// parseCounts reads a flag of increasing positive integers.
func parseCounts(name, s string) ([]int, error) {
	var counts []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || (len(counts) > 0 && n <= counts[len(counts)-1]) {
			return nil, fmt.Errorf("%s %q: want increasing positive integers", name, s)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

type bench struct {
	bin     string
	tofuEnv map[string]string
}

// tofuEnv is the environment of every OpenTofu process: no TF_* of the
// caller, no update checks, automation mode, an empty CLI config.
func tofuEnv() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "TF_") {
			m[k] = v
		}
	}
	rc := filepath.Join(os.TempDir(), "lablink-bench.tofurc")
	if err := os.WriteFile(rc, nil, 0o600); err != nil {
		fail(err)
	}
	m["CHECKPOINT_DISABLE"] = "1"
	m["TF_CLI_CONFIG_FILE"] = rc
	return m
}

func (b *bench) environ() []string {
	var out []string
	for k, v := range b.tofuEnv {
		out = append(out, k+"="+v)
	}
	return append(out, "TF_IN_AUTOMATION=1")
}

func workdir() (string, error) { return workdirWith(nil) }

// workdirWith is a fresh workdir holding the local module and the files
// extra (name to contents), such as an override file.
func workdirWith(extra map[string]string) (string, error) {
	dir, err := os.MkdirTemp("", "lablink-bench-")
	if err != nil {
		return "", err
	}
	if err := terraform.Materialize("local", dir); err != nil {
		return "", err
	}
	for name, text := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func (b *bench) run(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Dir, cmd.Env = dir, b.environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("tofu %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// launchSide launches to a total of n VMs and records how long it took.
type launchSide interface {
	launch(ctx context.Context, n int) error
	close()
}

// handSide runs plan -out, show -json and apply of the saved plan from a
// shell script, as a careful operator would, with the var-file the
// library renders; init is done beforehand.
type handSide struct {
	b      *bench
	dir    string
	script string
	schema *tfvars.Schema
	took   time.Duration
}

func (b *bench) byHand(ctx context.Context) (*handSide, error) { return b.byHandIn(ctx, nil) }

// byHandIn is byHand on a workdir with the files extra added to the
// module.
func (b *bench) byHandIn(ctx context.Context, extra map[string]string) (*handSide, error) {
	dir, err := workdirWith(extra)
	if err != nil {
		return nil, err
	}
	if err := b.run(ctx, dir, "init", "-input=false"); err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "launch.sh")
	body := "#!/bin/bash\nset -euo pipefail\n" +
		"'" + b.bin + "' plan -input=false -no-color -out=launch.tfplan -var-file=terraform.runtime.tfvars >/dev/null\n" +
		"'" + b.bin + "' show -json launch.tfplan >/dev/null\n" +
		"'" + b.bin + "' apply -input=false -no-color launch.tfplan >/dev/null\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		return nil, err
	}
	schema, err := tfvars.LoadSchema(dir)
	if err != nil {
		return nil, err
	}
	return &handSide{b: b, dir: dir, script: script, schema: schema}, nil
}

func (h *handSide) launch(ctx context.Context, n int) error {
	data, err := renderFor(ctx, h.schema, n)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(h.dir, "terraform.runtime.tfvars"), data, 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "bash", h.script)
	cmd.Dir, cmd.Env = h.dir, h.b.environ()
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("by hand, N = %d: %w\n%s", n, err, out)
	}
	h.took = time.Since(start)
	return nil
}

func (h *handSide) close() {
	os.RemoveAll(h.dir)
}

func renderFor(ctx context.Context, schema *tfvars.Schema, n int) ([]byte, error) {
	in, _, err := clientvars.Resolve(ctx, benchConfig(), env, gpu.Catalog{})
	if err != nil {
		return nil, err
	}
	in.InstanceCount = n
	r, err := clientvars.Render(schema, in, 0)
	return r.Data, err
}

// libSide launches through one Launcher prepared beforehand (version
// asked, init done), as a server holds it.
type libSide struct {
	dir  string
	l    *launcher.Launcher
	have int
	took time.Duration
}

func (b *bench) library(ctx context.Context) (*libSide, error) {
	dir, err := workdir()
	if err != nil {
		return nil, err
	}
	l, err := b.open(ctx, dir, gpu.Catalog{}, &launcher.Options{MaxCount: 1000})
	if err != nil {
		return nil, err
	}
	return &libSide{dir: dir, l: l}, nil
}

func (s *libSide) launch(ctx context.Context, n int) error {
	start := time.Now()
	r, err := s.l.Launch(ctx, launcher.Request{Count: n - s.have})
	if err != nil {
		return fmt.Errorf("library, N = %d: %w", n, err)
	}
	s.took = time.Since(start)
	if r.Total != n {
		return fmt.Errorf("library, N = %d: launched to %d", n, r.Total)
	}
	s.have = n
	return nil
}

func (s *libSide) close() {
	s.l.Close()
	os.RemoveAll(s.dir)
}

func (b *bench) buildCLI(ctx context.Context) (string, error) {
	dir, err := os.MkdirTemp("", "lablink-bench-cli-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "lablink")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./examples/cli")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the CLI: %w\n%s", err, msg)
	}
	return out, nil
}

// coldStart times, in a fresh workdir each: init + the three commands by
// hand, and the CLI launching one VM into an empty workdir.
func (b *bench) coldStart(ctx context.Context, cli string) (hand, viaCLI time.Duration, err error) {
	dir, err := workdir()
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	schema, err := tfvars.LoadSchema(dir)
	if err != nil {
		return 0, 0, err
	}
	data, err := renderFor(ctx, schema, 1)
	if err != nil {
		return 0, 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "terraform.runtime.tfvars"), data, 0o600); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	for _, args := range [][]string{
		{"init", "-input=false"},
		{"plan", "-input=false", "-out=launch.tfplan", "-var-file=terraform.runtime.tfvars"},
		{"show", "-json", "launch.tfplan"},
		{"apply", "-input=false", "launch.tfplan"},
	} {
		if err := b.run(ctx, dir, args...); err != nil {
			return 0, 0, err
		}
	}
	hand = time.Since(start)

	empty, err := os.MkdirTemp("", "lablink-bench-cold-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(empty)
	cmd := exec.CommandContext(ctx, cli, "launch", "--count", "1", "--workdir", empty, "--module", "local",
		"--gpu", "catalog", "--allocator-ip", env.AllocatorIP, "--environment", env.Environment,
		"--allocator-sg-id", env.AllocatorSGID, "--terraform", b.bin)
	cmd.Env = b.environ()
	start = time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("CLI launch: %w\n%s", err, out)
	}
	return hand, time.Since(start), nil
}

// concurrency times n sequential launches of one VM against n concurrent
// ones, each on a fresh prepared workdir, and counts the concurrent
// applies.
func (b *bench) concurrency(ctx context.Context, n int) (seq, conc time.Duration, applies int, err error) {
	newL := func() (*launcher.Launcher, func(), error) {
		dir, err := workdir()
		if err != nil {
			return nil, nil, err
		}
		l, err := b.open(ctx, dir, gpu.Catalog{}, nil)
		if err != nil {
			return nil, nil, err
		}
		return l, func() { l.Close(); os.RemoveAll(dir) }, nil
	}
	l, done, err := newL()
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	for range n {
		if _, err := l.Launch(ctx, launcher.Request{Count: 1}); err != nil {
			return 0, 0, 0, err
		}
	}
	seq = time.Since(start)
	done()

	l, done, err = newL()
	if err != nil {
		return 0, 0, 0, err
	}
	defer done()
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start = time.Now()
	for i := range n {
		wg.Go(func() {
			r, err := l.Launch(ctx, launcher.Request{Count: 1})
			ids[i], errs[i] = r.LaunchID, err
		})
	}
	wg.Wait()
	conc = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, 0, 0, err
	}
	slices.Sort(ids)
	return seq, conc, len(slices.Compact(ids)), nil
}

// ec2Requests launches 100 times through one Launcher whose GPU detector
// asks a local EC2 Query API server through the real SDK client, and
// returns how many requests reached the server.
func (b *bench) ec2Requests(ctx context.Context, launches int) (int, error) {
	srv := ec2fake.NewServer()
	defer srv.Close()
	srv.AddDefaults()
	det := gpu.NewDetector(ec2.NewFromConfig(srv.AWSConfig()), nil)
	var asked atomic.Int64
	counted := detectorFunc(func(ctx context.Context, it string) (gpu.Info, error) {
		asked.Add(1)
		return det.Detect(ctx, it)
	})
	dir, err := workdir()
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	l, err := b.open(ctx, dir, counted, &launcher.Options{MaxCount: 1})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	for range launches {
		if _, err := l.Launch(ctx, launcher.Request{Count: 1}); err != nil {
			return 0, err
		}
	}
	if asked.Load() != int64(launches) {
		return 0, fmt.Errorf("the launcher asked the detector %d times for %d launches", asked.Load(), launches)
	}
	return srv.Requests(), nil
}

type detectorFunc func(ctx context.Context, instanceType string) (gpu.Info, error)

func (f detectorFunc) Detect(ctx context.Context, it string) (gpu.Info, error) { return f(ctx, it) }

// version is the first line of `tofu version` that names the engine.
func (b *bench) version() string {
	cmd := exec.Command(b.bin, "version")
	cmd.Env = b.environ()
	out, _ := cmd.Output()
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "OpenTofu ") || strings.HasPrefix(line, "Terraform ") {
			return strings.TrimSpace(line)
		}
	}
	return "unknown version"
}

// cpuModel is the processor's name from /proc/cpuinfo, where there is one.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// open opens a launcher on dir run by the bench's OpenTofu: checked,
// initialized, as a server holds it.
func (b *bench) open(ctx context.Context, dir string, gpus launcher.GPUDetector, opts *launcher.Options) (*launcher.Launcher, error) {
	var o launcher.Options
	if opts != nil {
		o = *opts
	}
	e := env
	o.Binary, o.Env, o.TofuEnv = b.bin, &e, b.tofuEnv
	return launcher.Open(ctx, dir, benchConfig(), gpus, &o)
}
