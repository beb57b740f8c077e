package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/launcher"
)

// The fixed-time rows (issue 13): on EC2 a VM takes tens of seconds to
// create and OpenTofu creates 10 at a time by default, so a class of 100
// waits for ten waves. Here each VM of the local module runs a local-exec
// sleep when it is created, and N VMs are created from an empty workdir
// by hand (plan -out, show -json, apply with OpenTofu's default
// -parallelism=10) and through the library with a parallelism chosen from
// the plan; one VM by hand is the floor.

// sleepOverride gives every client VM of the local module a create that
// takes d: an override file adds a local-exec provisioner to
// terraform_data.lablink_vm, which runs once, at create.
func sleepOverride(d time.Duration) map[string]string {
	return map[string]string{"sleep_override.tf": fmt.Sprintf(`# Written by internal/cmd/bench: every VM takes %s to create.
resource "terraform_data" "lablink_vm" {
  provisioner "local-exec" {
    command = "sleep %s"
  }
}
`, d, strconv.FormatFloat(d.Seconds(), 'f', -1, 64))}
}

// parallelism is the library side's apply parallelism: auto (the
// launcher's default, Options.Parallelism = 0: one per planned resource
// change, at least 10 and at most Options.MaxParallelism) or a fixed
// Options.Parallelism ("default" is 10, what terraform-exec passes when
// nothing is set and what the launcher did before issue 13).
type parallelism struct {
	auto  bool
	fixed int
	cap   int
}

func parseParallelism(s string, limit int) (parallelism, error) {
	if limit < 1 {
		return parallelism{}, fmt.Errorf("-parallelism-cap %d: want at least 1", limit)
	}
	switch s {
	case "auto":
		return parallelism{auto: true, cap: limit}, nil
	case "default":
		return parallelism{fixed: 10, cap: limit}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return parallelism{}, fmt.Errorf("-parallelism %q: want auto, default or a positive number", s)
	}
	return parallelism{fixed: n, cap: limit}, nil
}

// options are the launcher Options that select p.
func (p parallelism) options() (fixed, limit int) {
	if p.auto {
		return 0, p.cap
	}
	return p.fixed, p.cap
}

// chosen is the parallelism the launcher applies a plan of changes
// resource changes with (launcher/workdir.go, workingDir.parallelism).
func (p parallelism) chosen(changes int) int {
	if !p.auto {
		return p.fixed
	}
	return min(max(changes, 10), p.cap)
}

func (p parallelism) String() string {
	if p.auto {
		return fmt.Sprintf("auto (cap %d)", p.cap)
	}
	return strconv.Itoa(p.fixed)
}

// sleepResult is the fixed-time rows' medians.
type sleepResult struct {
	counts     []int
	floor      time.Duration
	hand, lib  []time.Duration
	parallel   []int // the library side's parallelism per count
	sleepFor   time.Duration
	parallelOf parallelism
}

// sleepRows runs reps rounds of: one VM by hand, then each count by hand
// and through the library on fresh workdirs, which side first
// alternating between rounds.
func (b *bench) sleepRows(ctx context.Context, counts []int, reps int, d time.Duration, par parallelism) (*sleepResult, error) {
	extra := sleepOverride(d)
	res := &sleepResult{counts: counts, sleepFor: d, parallelOf: par, parallel: make([]int, len(counts))}
	var floors []time.Duration
	hand := make([][]time.Duration, len(counts))
	lib := make([][]time.Duration, len(counts))
	for rep := range reps {
		t, err := b.handSleep(ctx, extra, 1)
		if err != nil {
			return nil, err
		}
		floors = append(floors, t)
		for i, n := range counts {
			runHand := func() error {
				t, err := b.handSleep(ctx, extra, n)
				hand[i] = append(hand[i], t)
				return err
			}
			runLib := func() error {
				t, p, err := b.libSleep(ctx, extra, n, par)
				lib[i] = append(lib[i], t)
				res.parallel[i] = p
				return err
			}
			first, second := runHand, runLib
			if rep%2 == 1 {
				first, second = runLib, runHand
			}
			if err := first(); err != nil {
				return nil, err
			}
			if err := second(); err != nil {
				return nil, err
			}
		}
	}
	res.floor = median(floors)
	for i := range counts {
		res.hand = append(res.hand, median(hand[i]))
		res.lib = append(res.lib, median(lib[i]))
	}
	return res, nil
}

// handSleep creates n VMs by hand on a fresh workdir (init beforehand,
// not timed) and returns the time of plan, show and apply.
func (b *bench) handSleep(ctx context.Context, extra map[string]string, n int) (time.Duration, error) {
	h, err := b.byHandIn(ctx, extra)
	if err != nil {
		return 0, err
	}
	defer h.close()
	if err := h.launch(ctx, n); err != nil {
		return 0, err
	}
	return h.took, nil
}

// libSleep creates n VMs through a Launcher prepared beforehand on a
// fresh workdir, with the parallelism par selects, and returns the time
// of the launch and the parallelism the launcher chose for its plan.
func (b *bench) libSleep(ctx context.Context, extra map[string]string, n int, par parallelism) (time.Duration, int, error) {
	dir, err := workdirWith(extra)
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	fixed, limit := par.options()
	l, err := b.open(ctx, dir, gpu.Catalog{}, &launcher.Options{MaxCount: 1000, Parallelism: fixed, MaxParallelism: limit})
	if err != nil {
		return 0, 0, err
	}
	defer l.Close()
	start := time.Now()
	r, err := l.Launch(ctx, launcher.Request{Count: n})
	if err != nil {
		return 0, 0, fmt.Errorf("library, %d VMs: %w", n, err)
	}
	took := time.Since(start)
	changes := r.Plan.Add + r.Plan.Change + r.Plan.Destroy + r.Plan.Replace
	if changes != n {
		return 0, 0, fmt.Errorf("library, %d VMs: the plan held %d changes", n, changes)
	}
	return took, par.chosen(changes), nil
}

// print writes the fixed-time rows and returns their part of the last
// line.
func (s *sleepResult) print() string {
	fmt.Printf("\n%-34s %12s %12s %8s %6s\n", fmt.Sprintf("N VMs of %s each, from none", s.sleepFor), "tofu by hand", "library", "ratio", "par.")
	fmt.Printf("%-34s %12s\n", "one VM by hand (the floor)", ms(s.floor))
	var parts []string
	for i, n := range s.counts {
		r := float64(s.lib[i]) / float64(s.hand[i])
		fmt.Printf("%-34s %12s %12s %8.3f %6d\n", fmt.Sprintf("N = %d", n), ms(s.hand[i]), ms(s.lib[i]), r, s.parallel[i])
		parts = append(parts, fmt.Sprintf("%d: lib/floor %.2f lib/hand %.3f", n, float64(s.lib[i])/float64(s.floor), r))
	}
	target := ""
	if i := indexOf(s.counts, 100); i >= 0 {
		target = fmt.Sprintf(" (targets at 100: lib/floor <= 1.5, lib/hand <= 0.2: %s, %s)",
			verdict(float64(s.lib[i])/float64(s.floor) <= 1.5), verdict(float64(s.lib[i])/float64(s.hand[i]) <= 0.2))
	}
	return fmt.Sprintf("sleep %s, parallelism %s: %s%s", s.sleepFor, s.parallelOf, strings.Join(parts, "; "), target)
}

func indexOf(s []int, v int) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}
