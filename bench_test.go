package lablink_test

import (
	"os"
	"testing"

	"github.com/lablink-go/lablink"
)

// BenchmarkParseConfig loads testdata/full.yaml, which sets every key.
func BenchmarkParseConfig(b *testing.B) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := lablink.ParseConfig(data); err != nil {
			b.Fatal(err)
		}
	}
}
