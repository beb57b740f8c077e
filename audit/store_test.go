package audit_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

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
	t.Run("CreateTwice", func(t *testing.T) {
		s := newStore(t).store
		ctx := t.Context()
		const key = "dev/client/history/1/terraform.runtime.tfvars"
		if err := s.Create(ctx, key, []byte("first"), audit.ContentTypeTFVars); err != nil {
			t.Fatalf("first Create: %v", err)
		}
		err := s.Create(ctx, key, []byte("second"), audit.ContentTypeTFVars)
		if !errors.Is(err, audit.ErrExists) {
			t.Fatalf("second Create: got %v, want ErrExists", err)
		}
		mustGet(t, s, key, "first")
	})

	t.Run("PutOverwrites", func(t *testing.T) {
		s := newStore(t).store
		ctx := t.Context()
		const key = "dev/client/terraform.runtime.tfvars"
		for _, body := range []string{"one", "two", ""} {
			if err := s.Put(ctx, key, []byte(body), audit.ContentTypeTFVars); err != nil {
				t.Fatalf("Put %q: %v", body, err)
			}
			mustGet(t, s, key, body)
		}
		// Put also replaces an object made by Create.
		if err := s.Create(ctx, "k", []byte("created"), audit.ContentTypeJSON); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "k", []byte("replaced"), audit.ContentTypeJSON); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "k", "replaced")
	})

	t.Run("GetMissing", func(t *testing.T) {
		s := newStore(t).store
		_, err := s.Get(t.Context(), "dev/client/nothing")
		if !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("Get: got %v, want ErrNotFound", err)
		}
	})

	t.Run("List", func(t *testing.T) {
		s := newStore(t).store
		ctx := t.Context()
		keys := []string{
			"dev/client/history/b/x", "dev/client/history/a/y", "dev/client/history/a/x",
			"dev/client/terraform.runtime.tfvars", "dev2/a", "devx", "prod/client/z",
		}
		for _, k := range keys {
			if err := s.Create(ctx, k, []byte(k), audit.ContentTypeTFVars); err != nil {
				t.Fatal(err)
			}
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
			if err != nil {
				t.Fatalf("List(%q): %v", tt.prefix, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("List(%q) mismatch (-want +got):\n%s", tt.prefix, diff)
			}
		}
	})

	t.Run("Location", func(t *testing.T) {
		sut := newStore(t)
		for _, key := range []string{"dev/client/terraform.runtime.tfvars", "k"} {
			if got, want := sut.store.Location(key), sut.location(key); got != want {
				t.Errorf("Location(%q) = %q, want %q", key, got, want)
			}
		}
	})

	t.Run("InvalidKeys", func(t *testing.T) {
		s := newStore(t).store
		ctx := t.Context()
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
				if !errors.Is(err, audit.ErrInvalid) {
					t.Errorf("%s(%q): got %v, want ErrInvalid", op, key, err)
				}
			}
		}
		if _, err := s.List(ctx, "../"); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf(`List("../"): got %v, want ErrInvalid`, err)
		}
		got, err := s.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{}, got); diff != "" {
			t.Errorf("invalid keys left objects (-want +got):\n%s", diff)
		}
	})

	t.Run("ConcurrentCreate", func(t *testing.T) {
		s := newStore(t).store
		ctx := t.Context()
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.Create(ctx, "race", fmt.Appendf(nil, "writer %d", i), audit.ContentTypeJSON)
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("writers %d and %d both created the object", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, audit.ErrExists):
				t.Errorf("writer %d: got %v, want nil or ErrExists", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no writer created the object")
		}
		mustGet(t, s, "race", fmt.Sprintf("writer %d", winner))
	})

	t.Run("Canceled", func(t *testing.T) {
		s := newStore(t).store
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Put(ctx, "k", []byte("x"), audit.ContentTypeJSON); !errors.Is(err, context.Canceled) {
			t.Errorf("Put: got %v, want context.Canceled", err)
		}
		if _, err := s.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
			t.Errorf("Get: got %v, want context.Canceled", err)
		}
	})
}

func mustGet(t *testing.T, s audit.Store, key, want string) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Get(%q) mismatch (-want +got):\n%s", key, diff)
	}
}
