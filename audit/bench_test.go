package audit_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/miniotest"
)

// benchSizes are the history sizes of the flat-read benchmarks: records of
// each kind (attempts, operations) in one environment.
var benchSizes = []int{10, 1000, 10000}

// benchPage is the page of operations a status poll reads: the same at
// every size, so that the times compare the history's size only.
const benchPage = 10

// BenchmarkFlatReads times, on MinIO, what a status poll and a launch
// request read with 10, 1,000 and 10,000 records in the store: the newest
// audit record (Trail.Latest), a poll (that and the first page of
// operations), and OpStore.Create. req/op counts the HTTP requests each
// makes. The records are written into the bucket directly, once per run
// (about 33,000 objects: a minute or two), before any timing.
//
//	go test -run '^$' -bench FlatReads ./audit/
func BenchmarkFlatReads(b *testing.B) {
	srv := miniotest.Shared(b)
	bucket := seedBench(b, srv)
	var requests atomic.Int64
	client := srv.S3Client(b, func(o *s3.Options) {
		o.HTTPClient = countingClient{next: o.HTTPClient, n: &requests}
	})
	store := audit.NewS3Store(client, bucket, nil)
	run := func(b *testing.B, name string, f func(ctx context.Context, env string) error) {
		b.Run(name, func(b *testing.B) {
			for _, n := range benchSizes {
				b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
					env := fmt.Sprintf("n%d", n)
					ctx := b.Context()
					if err := f(ctx, env); err != nil { // the marker checks, once per process
						b.Fatal(err)
					}
					requests.Store(0)
					for b.Loop() {
						if err := f(ctx, env); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(requests.Load())/float64(b.N), "req/op")
				})
			}
		})
	}
	trail, ops := audit.NewTrail(store, nil), audit.NewOpStore(store, nil)
	latest := func(ctx context.Context, env string) error {
		m, err := trail.Latest(ctx, env)
		if want := benchLaunchID(benchSeed.size[env]); err == nil && m.LaunchID != want {
			err = fmt.Errorf("latest launch %s, want %s", m.LaunchID, want)
		}
		return err
	}
	run(b, "latest", latest)
	run(b, "poll", func(ctx context.Context, env string) error {
		if err := latest(ctx, env); err != nil {
			return err
		}
		page, _, err := ops.List(ctx, env, audit.OpQuery{Limit: benchPage})
		if err == nil && len(page) != benchPage {
			err = fmt.Errorf("a page of %d operations, want %d", len(page), benchPage)
		}
		return err
	})
	// Last: it adds operations (b.N of them) to each environment.
	run(b, "create", func(ctx context.Context, env string) error {
		op, err := ops.Create(ctx, audit.Op{Action: audit.Launch, Environment: env, CreatedBy: "bench"})
		if err != nil {
			return err
		}
		benchSeed.ops[env]++ // this process's creates survive from one -count to the next
		if want := benchSeed.ops[env]; op.ID != want {
			return fmt.Errorf("created operation %d, want %d", op.ID, want)
		}
		return nil
	})
}

type countingClient struct {
	next s3.HTTPClient
	n    *atomic.Int64
}

func (c countingClient) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.Do(r)
}

var benchSeed struct {
	once   sync.Once
	bucket string
	err    error
	size   map[string]int   // records of each kind, by environment
	ops    map[string]int64 // the newest operation id, by environment
}

// seedBench returns a bucket holding, for each size n, environment "n<n>"
// with n finished launches (manifest and history index entry) and n
// succeeded operations, in the layout the current code writes, with the
// markers that say nothing older is left to index. The bucket is made once
// per process.
func seedBench(b *testing.B, srv *miniotest.Server) string {
	b.Helper()
	benchSeed.once.Do(func() {
		start := time.Now()
		benchSeed.bucket = srv.NewBucket(b)
		benchSeed.size, benchSeed.ops = map[string]int{}, map[string]int64{}
		for _, n := range benchSizes {
			env := fmt.Sprintf("n%d", n)
			benchSeed.size[env], benchSeed.ops[env] = n, int64(n)
		}
		store := audit.NewS3Store(srv.S3Client(b), benchSeed.bucket, nil)
		benchSeed.err = seed(context.Background(), store)
		b.Logf("seeded %d records of each kind in %v", 10+1000+10000, time.Since(start).Round(time.Second))
	})
	if benchSeed.err != nil {
		b.Fatal(benchSeed.err)
	}
	return benchSeed.bucket
}

// seed writes the benchmark's objects with 8 writers. The keys are built
// here from the documented layout, not by the package: a change of layout
// must show up as a failing benchmark.
func seed(ctx context.Context, s audit.Store) error {
	type object struct {
		key  string
		body []byte
	}
	objects := make(chan object)
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for o := range objects { // to the end, so that the sender never blocks
				mu.Lock()
				failed := first != nil
				mu.Unlock()
				if failed {
					continue
				}
				if err := s.Put(ctx, o.key, o.body, audit.ContentTypeJSON); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
				}
			}
		})
	}
	var err error
	for _, n := range benchSizes {
		if err = seedEnv(fmt.Sprintf("n%d", n), n, func(key string, body []byte) {
			objects <- object{key, body}
		}); err != nil {
			break
		}
	}
	close(objects)
	wg.Wait()
	return errors.Join(err, first)
}

// benchStarted returns the start of the i-th launch seedEnv writes: one a
// minute.
func benchStarted(i int) time.Time {
	return time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
}

// benchLaunchID returns the launch ID of the i-th launch seedEnv writes.
func benchLaunchID(i int) string {
	return fmt.Sprintf("%s-%08x", benchStarted(i).Format("20060102T150405Z"), i)
}

func seedEnv(env string, n int, put func(key string, body []byte)) error {
	for i := 1; i <= n; i++ {
		started := benchStarted(i)
		m := launch(env)
		m.LaunchID = benchLaunchID(i)
		m.Started, m.Finished, m.Duration = started, started.Add(40*time.Second), "40s"
		m.Outcome = audit.OutcomeSucceeded
		body, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		put(audit.HistoryPrefix(env, m.LaunchID)+audit.ManifestName, body)
		inv := fmt.Sprintf("%014d", 99999999999999-started.UnixMilli())
		put(fmt.Sprintf("%s/client/history-index/%s/%s/%s/%s/%s-%s", env, inv[:4], inv[4:6], inv[6:8], inv[8:10], inv, m.LaunchID),
			[]byte(m.LaunchID+"\n"))

		finished := started.Add(40 * time.Second)
		op := audit.Op{ID: int64(i), Action: audit.Launch, Status: audit.StatusSucceeded, Environment: env,
			CreatedBy: "admin", CreatedAt: started, StartedAt: &started, FinishedAt: &finished,
			Params: map[string]any{"num_vms": 2}, LaunchID: m.LaunchID, UpdatedAt: finished, Nonce: fmt.Sprint(i)}
		if body, err = json.MarshalIndent(op, "", "  "); err != nil {
			return err
		}
		oinv := fmt.Sprintf("%012d", 999999999999-i)
		put(fmt.Sprintf("%s/client/ops/records/%s/%s/%s/%s-%d.json", env, oinv[:6], oinv[6:8], oinv[8:10], oinv, i), body)
	}
	put(env+"/client/history-index.json", []byte(`{"history_index":1}`+"\n"))
	put(env+"/client/ops/layout.json", []byte(`{"operations_layout":2}`+"\n"))
	return nil
}
