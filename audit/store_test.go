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
		{"ListPages", testListPages},
		{"Delete", testDelete},
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
		"dev-a", // before "dev/..." in byte order, after the directory "dev" by name
	}
	for _, k := range keys {
		require.NoError(t, s.Create(ctx, k, []byte(k), audit.ContentTypeTFVars))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{
			"dev-a", "dev/client/history/a/x", "dev/client/history/a/y", "dev/client/history/b/x",
			"dev/client/terraform.runtime.tfvars", "dev2/a", "devx", "prod/client/z",
		}},
		{"dev/", []string{
			"dev/client/history/a/x", "dev/client/history/a/y", "dev/client/history/b/x",
			"dev/client/terraform.runtime.tfvars",
		}},
		{"dev", []string{
			"dev-a", "dev/client/history/a/x", "dev/client/history/a/y", "dev/client/history/b/x",
			"dev/client/terraform.runtime.tfvars", "dev2/a", "devx",
		}},
		{"dev/client/history/", []string{"dev/client/history/a/x", "dev/client/history/a/y", "dev/client/history/b/x"}},
		{"dev/client/history/a", []string{"dev/client/history/a/x", "dev/client/history/a/y"}},
		{"dev/client/t", []string{"dev/client/terraform.runtime.tfvars"}},
		{"staging/", []string{}},
		{"nothing/at/all/", []string{}},
	}
	for _, tt := range tests {
		got, err := s.List(ctx, tt.prefix, audit.ListOptions{})
		require.NoError(t, err, "List(%q)", tt.prefix)
		assert.Equal(t, tt.want, got, "List(%q)", tt.prefix)
	}
}

// List with StartAfter and MaxKeys returns a window of the full list, in
// byte order, whether StartAfter is a key, a directory or no name at all.
func testListPages(t *testing.T, sut storeUnderTest) {
	s, ctx := sut.store, t.Context()
	all := []string{
		"dev-a", "dev/client/history/a/x", "dev/client/history/a/y", "dev/client/history/b/x",
		"dev/client/terraform.runtime.tfvars", "dev2/a", "devx", "prod/client/z",
	}
	for _, k := range all {
		require.NoError(t, s.Create(ctx, k, []byte(k), audit.ContentTypeTFVars))
	}
	tests := []struct {
		name   string
		prefix string
		opts   audit.ListOptions
		want   []string
	}{
		{"first keys", "", audit.ListOptions{MaxKeys: 3}, all[:3]},
		{"after a key", "", audit.ListOptions{StartAfter: "dev/client/history/a/y", MaxKeys: 2}, all[3:5]},
		{"after a file before a directory", "", audit.ListOptions{StartAfter: "dev-a", MaxKeys: 1}, all[1:2]},
		{"after a directory's name", "", audit.ListOptions{StartAfter: "dev/client/history/a", MaxKeys: 1}, all[1:2]},
		{"after a directory", "", audit.ListOptions{StartAfter: "dev/client/history/a/", MaxKeys: 1}, all[1:2]},
		{"after a subtree", "", audit.ListOptions{StartAfter: "dev/client/history/a/~"}, all[3:]},
		{"after a name that is not stored", "dev", audit.ListOptions{StartAfter: "dev/client/i"}, all[4:7]},
		{"StartAfter before the prefix", "dev/client/history/", audit.ListOptions{StartAfter: "a", MaxKeys: 10}, all[1:4]},
		{"StartAfter after everything", "", audit.ListOptions{StartAfter: "zzz"}, []string{}},
		{"more than there is", "prod/", audit.ListOptions{MaxKeys: 5}, all[7:]},
	}
	for _, tt := range tests {
		got, err := s.List(ctx, tt.prefix, tt.opts)
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, got, tt.name)
	}
}

func testDelete(t *testing.T, sut storeUnderTest) {
	s, ctx := sut.store, t.Context()
	require.NoError(t, s.Create(ctx, "a/b/c", []byte("x"), audit.ContentTypeTFVars))
	require.NoError(t, s.Create(ctx, "a/d", []byte("y"), audit.ContentTypeTFVars))
	require.NoError(t, s.Delete(ctx, "a/b/c"))
	_, err := s.Get(ctx, "a/b/c")
	assert.ErrorIs(t, err, audit.ErrNotFound, "Get after Delete")
	checkKeys(t, s, []string{"a/d"})
	assert.NoError(t, s.Delete(ctx, "a/b/c"), "Delete of a missing key")
	assert.NoError(t, s.Delete(ctx, "never/was"), "Delete under a missing directory")
	// A key can be written again where one was deleted.
	require.NoError(t, s.Create(ctx, "a/b/c", []byte("z"), audit.ContentTypeTFVars))
	mustGet(t, s, "a/b/c", "z")
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
		ops["Delete"] = s.Delete(ctx, key)
		for op, err := range ops {
			assert.ErrorIs(t, err, audit.ErrInvalid, "%s(%q)", op, key)
		}
	}
	_, err := s.List(ctx, "../", audit.ListOptions{})
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
	assert.ErrorIs(t, s.Delete(ctx, "k"), context.Canceled, "Delete")
	_, err = s.List(ctx, "", audit.ListOptions{})
	assert.ErrorIs(t, err, context.Canceled, "List")
}

func mustGet(t *testing.T, s audit.Store, key, want string) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	require.NoError(t, err, "Get(%q)", key)
	assert.Equal(t, want, string(got), "Get(%q)", key)
}
