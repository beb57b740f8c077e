// Package launchertest provides a double of the launcher for the tests of
// code that serves or schedules launches: Fake implements
// launcher.Service without OpenTofu, with the launcher's own operation
// records (queued, running with progress, then final), so that
// launcher.Wait, watches and pollers behave as they do against a real
// Launcher.
//
// A Fake runs its jobs one at a time in order of arrival, each in a few
// steps: a launch of N VMs completes N resource changes, a destroy one per
// VM. Hold keeps the next jobs running until released; Fail makes the next
// job fail.
package launchertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/launcher/internal/oplog"
)

// Fake is a launcher.Service that runs no OpenTofu. Its zero value is not
// usable: see New. It is safe for concurrent use; call Close when done.
type Fake struct {
	opts  Options
	store *memStore
	ops   *oplog.Log

	mu       sync.Mutex
	requests []launcher.Request
	vms      []launcher.VM
	hold     chan struct{} // non-nil: jobs wait for it to close
	fail     []error
	queue    chan job
	closed   bool
	done     chan struct{}
	last     *audit.Manifest
	records  map[string]*audit.Manifest
	seq      int
}

// Options tune a Fake. The zero value means the defaults.
type Options struct {
	// Environment names the records' environment. Default "prod".
	Environment string
	// MaxCount bounds a launch request as launcher.Options.MaxCount does.
	// Default 500.
	MaxCount int
	// Now is the clock of the records. Default time.Now.
	Now func() time.Time
}

type job struct {
	op  audit.Op
	req launcher.Request
}

// New returns a Fake with no VMs, and starts its worker.
func New(opts *Options) *Fake {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Environment == "" {
		o.Environment = "prod"
	}
	if o.MaxCount <= 0 {
		o.MaxCount = 500
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := newMemStore(o.Now)
	f := &Fake{opts: o, store: s, ops: oplog.New(s, o.Environment, oplog.Options{Now: o.Now}),
		queue: make(chan job, 1024), done: make(chan struct{}), records: map[string]*audit.Manifest{}}
	go f.work()
	return f
}

var _ launcher.Service = (*Fake)(nil)

// Start queues req and returns its operation, queued, as
// launcher.Launcher.Start does. A launch of fewer than 1 or more than
// Options.MaxCount VMs is launcher.ErrInvalidCount; after Close,
// launcher.ErrClosed.
func (f *Fake) Start(ctx context.Context, req launcher.Request) (audit.Op, error) {
	if !req.Destroy && (req.Count < 1 || req.Count > f.opts.MaxCount) {
		return audit.Op{}, fmt.Errorf("%w: %d; want 1 to %d", launcher.ErrInvalidCount, req.Count, f.opts.MaxCount)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return audit.Op{}, launcher.ErrClosed
	}
	typ, params := audit.Launch, map[string]any{"num_vms": req.Count}
	if req.Destroy {
		typ, params = audit.Destroy, map[string]any{}
	}
	if req.Schedule != "" {
		params["schedule"] = req.Schedule
	}
	op, err := f.ops.Create(ctx, audit.Op{Action: typ, CreatedBy: req.Actor, Params: params})
	if err != nil {
		return audit.Op{}, err
	}
	f.requests = append(f.requests, req)
	f.queue <- job{op: op, req: req}
	return op, nil
}

// Op returns operation id.
func (f *Fake) Op(ctx context.Context, id int64) (audit.Op, error) {
	if op, ok := f.ops.Live(id); ok {
		return op, nil
	}
	return f.store.Get(ctx, f.opts.Environment, id)
}

// Ops returns a page of the operations, newest first, as
// launcher.Launcher.Ops does.
func (f *Fake) Ops(_ context.Context, q audit.OpQuery) ([]audit.Op, int64, error) {
	ops, next := f.store.list(q)
	return ops, next, nil
}

// Watch follows operation id as launcher.Launcher.Watch does.
func (f *Fake) Watch(ctx context.Context, id int64) (<-chan audit.Op, func(), error) {
	return f.ops.Watch(ctx, id)
}

// Status reports the fake's VMs, busy while a job runs or waits, and the
// record of the last job.
func (f *Fake) Status(context.Context) (launcher.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return launcher.Status{VMs: slices.Clone(f.vms), TFVars: len(f.vms) > 0 || f.last != nil,
		Busy: len(f.queue) > 0 || f.running(), Last: f.last}, nil
}

// running reports a job between its start and its end. f.mu must be held.
func (f *Fake) running() bool { return f.seq > 0 }

// Preview answers as a launch on the fake's VMs would: an instance type
// of "g4dn.xlarge" with one NVIDIA GPU, and no variable changes.
func (f *Fake) Preview(_ context.Context, count int) (launcher.Preview, error) {
	if count < 1 || count > f.opts.MaxCount {
		return launcher.Preview{}, fmt.Errorf("%w: %d; want 1 to %d", launcher.ErrInvalidCount, count, f.opts.MaxCount)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.vms)
	return launcher.Preview{Existing: n, Requested: count, Total: n + count, InstanceType: "g4dn.xlarge",
		GPU: gpu.Info{InstanceType: "g4dn.xlarge", Source: gpu.SourceCatalog,
			GPUs: []gpu.GPU{{Manufacturer: "NVIDIA", Name: "T4", Count: 1, MemoryMiB: 16384}}}}, nil
}

// Record returns the record of a job of the fake, "fake-<op id>", with an
// empty tfvars copy.
func (f *Fake) Record(_ context.Context, id string) (audit.Manifest, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.records[id]; ok {
		return *m, []byte{}, nil
	}
	return audit.Manifest{}, nil, fmt.Errorf("%w: %s", audit.ErrNotFound, id)
}

// Hold makes the jobs that start from now on stay running, after their
// first step, until release is called.
func (f *Fake) Hold() (release func()) {
	c := make(chan struct{})
	f.mu.Lock()
	f.hold = c
	f.mu.Unlock()
	return sync.OnceFunc(func() {
		f.mu.Lock()
		if f.hold == c {
			f.hold = nil
		}
		f.mu.Unlock()
		close(c)
	})
}

// Fail makes the next job fail with err (after its first step).
func (f *Fake) Fail(err error) {
	f.mu.Lock()
	f.fail = append(f.fail, err)
	f.mu.Unlock()
}

// Requests returns every request Start accepted, in order.
func (f *Fake) Requests() []launcher.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Close stops taking requests and waits for the queued jobs to end.
func (f *Fake) Close() {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.queue)
	}
	f.mu.Unlock()
	<-f.done
	f.ops.Close(context.Background())
}

func (f *Fake) work() {
	defer close(f.done)
	for j := range f.queue {
		f.run(j)
	}
}

// run takes one job through its steps.
func (f *Fake) run(j job) {
	ctx := context.Background()
	f.mu.Lock()
	f.seq++
	hold := f.hold
	var fail error
	if len(f.fail) > 0 {
		fail, f.fail = f.fail[0], f.fail[1:]
	}
	total := j.req.Count
	if j.req.Destroy {
		total = len(f.vms)
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.seq--
		f.mu.Unlock()
	}()
	id := fmt.Sprintf("fake-%d", j.op.ID)
	start := f.opts.Now().UTC()
	f.ops.Update(ctx, j.op.ID, func(op *audit.Op) {
		op.Status, op.StartedAt, op.LaunchID, op.ResourcesTotal = audit.StatusRunning, &start, id, total
	})
	if hold != nil {
		<-hold
	}
	if fail == nil {
		for done := 1; done <= total; done++ {
			f.ops.Update(ctx, j.op.ID, func(op *audit.Op) { op.ResourcesCompleted = done })
		}
		f.apply(j.req)
	}
	f.record(j, id, start, fail)
	end := f.opts.Now().UTC()
	f.ops.Update(ctx, j.op.ID, func(op *audit.Op) {
		op.FinishedAt = &end
		if fail != nil {
			op.Status, op.Error = audit.StatusFailed, fail.Error()
			return
		}
		op.Status = audit.StatusSucceeded
	})
}

// apply changes the fake's VMs as the request asks.
func (f *Fake) apply(req launcher.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Destroy {
		f.vms = nil
		return
	}
	for range req.Count {
		i := len(f.vms)
		f.vms = append(f.vms, launcher.VM{Address: fmt.Sprintf("terraform_data.lablink_vm[%d]", i), Index: i,
			ID: fmt.Sprintf("fake-vm-%d", i), Name: fmt.Sprintf("fake-vm-%d", i+1)})
	}
}

// record keeps the audit record of the job as Status's Last.
func (f *Fake) record(j job, id string, start time.Time, fail error) {
	m := &audit.Manifest{LaunchID: id, Environment: f.opts.Environment, Action: audit.Launch,
		Actor: j.req.Actor, Started: start, Finished: f.opts.Now().UTC(), Requested: j.req.Count,
		Outcome: audit.OutcomeSucceeded}
	if j.req.Destroy {
		m.Action, m.Requested = audit.Destroy, 0
	}
	if fail != nil {
		m.Outcome, m.Error = audit.OutcomeFailed, fail.Error()
	}
	f.mu.Lock()
	m.Total = len(f.vms)
	f.last = m
	f.records[id] = m
	f.mu.Unlock()
}

// memStore keeps operation records in memory.
type memStore struct {
	now func() time.Time
	mu  sync.Mutex
	ops []audit.Op // by id - 1
}

func newMemStore(now func() time.Time) *memStore { return &memStore{now: now} }

func (s *memStore) Create(_ context.Context, op audit.Op) (audit.Op, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op.ID = int64(len(s.ops) + 1)
	op.Status = audit.StatusQueued
	op.CreatedAt = s.now().UTC()
	op.UpdatedAt = op.CreatedAt
	s.ops = append(s.ops, op)
	return op, nil
}

func (s *memStore) Update(_ context.Context, op audit.Op) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op.ID < 1 || int(op.ID) > len(s.ops) {
		return fmt.Errorf("%w: %d", audit.ErrNoOperation, op.ID)
	}
	op.UpdatedAt = s.now().UTC()
	s.ops[op.ID-1] = op
	return nil
}

func (s *memStore) Get(_ context.Context, _ string, id int64) (audit.Op, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int(id) > len(s.ops) {
		return audit.Op{}, fmt.Errorf("%w: %d", audit.ErrNoOperation, id)
	}
	return s.ops[id-1], nil
}

func (s *memStore) list(q audit.OpQuery) ([]audit.Op, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []audit.Op
	i := len(s.ops) - 1
	if q.Before > 0 {
		i = min(i, int(q.Before)-2)
	}
	for ; i >= 0 && (q.Limit < 1 || len(out) < q.Limit); i-- {
		if len(q.Statuses) == 0 || slices.Contains(q.Statuses, s.ops[i].Status) {
			out = append(out, s.ops[i])
		}
	}
	var next int64
	if i >= 0 && len(out) > 0 {
		next = out[len(out)-1].ID
	}
	return out, next
}
