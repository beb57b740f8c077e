package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/miniotest"
)

// storeUnderTest is a fresh, empty store and the Location it must report.
type storeUnderTest struct {
	store    audit.Store
	location func(key string) string
}

func newDirStore(t *testing.T) storeUnderTest {
	dir := t.TempDir()
	return storeUnderTest{
		store:    audit.NewDirStore(dir),
		location: func(key string) string { return filepath.Join(dir, filepath.FromSlash(key)) },
	}
}

func newS3Store(prefix string) func(t *testing.T) storeUnderTest {
	return func(t *testing.T) storeUnderTest {
		srv := miniotest.Shared(t)
		bucket := srv.NewBucket(t)
		want := "s3://" + bucket + "/"
		if prefix != "" {
			want += prefix + "/"
		}
		return storeUnderTest{
			store:    audit.NewS3Store(srv.S3Client(t), bucket, &audit.S3Options{Prefix: prefix}),
			location: func(key string) string { return want + key },
		}
	}
}

func TestStores(t *testing.T) {
	t.Run("dir", func(t *testing.T) { testStore(t, newDirStore) })
	t.Run("s3", func(t *testing.T) { testStore(t, newS3Store("")) })
	t.Run("s3-prefix", func(t *testing.T) { testStore(t, newS3Store("audit/lablink")) })
}

// testStore is the contract every Store implementation must meet.
func testStore(t *testing.T, newStore func(t *testing.T) storeUnderTest) {
	for _, c := range []struct {
		name string
		test func(t *testing.T, sut storeUnderTest)
	}{
		{"CreateTwice", testCreateTwice},
		{"PutOverwrites", testPutOverwrites},
		{"GetMissing", testGetMissing},
		{"List", testList},
		{"Location", testLocation},
		{"InvalidKeys", testInvalidKeys},
		{"ConcurrentCreate", testConcurrentCreate},
		{"Canceled", testCanceled},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, newStore(t)) })
	}
}

// A second Create of the same bytes is a retry and succeeds; other bytes
// are refused and the object stays.
func testCreateTwice(t *testing.T, sut storeUnderTest) {
	s, ctx := sut.store, t.Context()
	const key = "dev/client/history/1/terraform.runtime.tfvars"
	require.NoError(t, s.Create(ctx, key, []byte("first"), audit.ContentTypeTFVars), "first Create")
	assert.NoError(t, s.Create(ctx, key, []byte("first"), audit.ContentTypeTFVars), "Create with the same bytes")
	err := s.Create(ctx, key, []byte("second"), audit.ContentTypeTFVars)
	assert.ErrorIs(t, err, audit.ErrExists, "Create with other bytes")
	assert.ErrorContains(t, err, sut.location(key), "the error names the object")
	checkKeys(t, s, []string{key})
	mustGet(t, s, key, "first")
}

func testPutOverwrites(t *testing.T, sut storeUnderTest) {
	s, ctx := sut.store, t.Context()
	const key = "dev/client/terraform.runtime.tfvars"
	for _, body := range []string{"one", "two", ""} {
		require.NoError(t, s.Put(ctx, key, []byte(body), audit.ContentTypeTFVars), "Put %q", body)
		mustGet(t, s, key, body)
	}
	// Put also replaces an object made by Create.
	require.NoError(t, s.Create(ctx, "k", []byte("created"), audit.ContentTypeJSON))
	require.NoError(t, s.Put(ctx, "k", []byte("replaced"), audit.ContentTypeJSON))
	mustGet(t, s, "k", "replaced")
}

func testGetMissing(t *testing.T, sut storeUnderTest) {
	_, err := sut.store.Get(t.Context(), "dev/client/nothing")
	assert.ErrorIs(t, err, audit.ErrNotFound)
}

func testList(t *testing.T, sut storeUnderTest) {
	s, ctx := sut.store, t.Context()
	keys := []string{
		"dev/client/history/b/x", "dev/client/history/a/y", "dev/client/history/a/x",
		"dev/client/terraform.runtime.tfvars", "dev2/a", "devx", "prod/client/z",
	}
	for _, k := range keys {
		require.NoError(t, s.Create(ctx, k, []byte(k), audit.ContentTypeTFVars))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{
			"dev/client/history/a/x", "dev/client/history/a/y", "dev/client/history/b/x",
			"dev/client/terraform.runtime.tfvars", "dev2/a", "devx", "prod/client/z",
		}},
		{"dev/", []string{
			"dev/client/history/a/x", "dev/client/history/a/y", "dev/client/history/b/x",
			"dev/client/terraform.runtime.tfvars",
		}},
		{"dev", []string{
			"dev/client/history/a/x", "dev/client/history/a/y", "dev/client/history/b/x",
			"dev/client/terraform.runtime.tfvars", "dev2/a", "devx",
		}},
		{"dev/client/history/", []string{"dev/client/history/a/x", "dev/client/history/a/y", "dev/client/history/b/x"}},
		{"dev/client/history/a", []string{"dev/client/history/a/x", "dev/client/history/a/y"}},
		{"dev/client/t", []string{"dev/client/terraform.runtime.tfvars"}},
		{"staging/", []string{}},
		{"nothing/at/all/", []string{}},
	}
	for _, tt := range tests {
		got, err := s.List(ctx, tt.prefix)
		require.NoError(t, err, "List(%q)", tt.prefix)
		assert.Equal(t, tt.want, got, "List(%q)", tt.prefix)
	}
}

func testLocation(t *testing.T, sut storeUnderTest) {
	for _, key := range []string{"dev/client/terraform.runtime.tfvars", "k"} {
		assert.Equal(t, sut.location(key), sut.store.Location(key), "Location(%q)", key)
	}
}

func testInvalidKeys(t *testing.T, sut storeUnderTest) {
	s, ctx := sut.store, t.Context()
	for _, key := range []string{
		"", "/abs", "a/", "a//b", ".", "..", "../x", "a/../../x", "a/./b",
		`a\b`, `..\x`, "a\x00b", "a\nb",
	} {
		ops := map[string]error{
			"Create": s.Create(ctx, key, []byte("x"), audit.ContentTypeTFVars),
			"Put":    s.Put(ctx, key, []byte("x"), audit.ContentTypeTFVars),
		}
		_, ops["Get"] = s.Get(ctx, key)
		for op, err := range ops {
			assert.ErrorIs(t, err, audit.ErrInvalid, "%s(%q)", op, key)
		}
	}
	_, err := s.List(ctx, "../")
	assert.ErrorIs(t, err, audit.ErrInvalid, `List("../")`)
	checkKeys(t, s, []string{})
}

// Writers of different bytes race for one key: exactly one wins, the
// others get ErrExists.
func testConcurrentCreate(t *testing.T, sut storeUnderTest) {
	s, ctx := sut.store, t.Context()
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Create(ctx, "race", fmt.Appendf(nil, "writer %d", i), audit.ContentTypeJSON)
		})
	}
	wg.Wait()
	var winners []int
	for i, err := range errs {
		if err == nil {
			winners = append(winners, i)
			continue
		}
		assert.ErrorIs(t, err, audit.ErrExists, "writer %d", i)
	}
	require.Len(t, winners, 1, "writers that created the object")
	mustGet(t, s, "race", fmt.Sprintf("writer %d", winners[0]))
}

func testCanceled(t *testing.T, sut storeUnderTest) {
	s := sut.store
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, s.Put(ctx, "k", []byte("x"), audit.ContentTypeJSON), context.Canceled, "Put")
	assert.ErrorIs(t, s.Create(ctx, "k", []byte("x"), audit.ContentTypeJSON), context.Canceled, "Create")
	_, err := s.Get(ctx, "k")
	assert.ErrorIs(t, err, context.Canceled, "Get")
}

func mustGet(t *testing.T, s audit.Store, key, want string) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	require.NoError(t, err, "Get(%q)", key)
	assert.Equal(t, want, string(got), "Get(%q)", key)
}
