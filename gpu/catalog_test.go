package gpu

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCatalogDetect(t *testing.T) {
	nv := func(name string, count, mib int) []GPU {
		return []GPU{{Manufacturer: "NVIDIA", Name: name, Count: count, MemoryMiB: mib}}
	}
	tests := []struct {
		instanceType string
		gpus         []GPU
		nvidia       bool
	}{
		{"g4dn.xlarge", nv("T4", 1, 16384), true},
		{"g4dn.12xlarge", nv("T4", 4, 16384), true},
		{"g4dn.metal", nv("T4", 8, 16384), true},
		{"g4ad.xlarge", []GPU{{Manufacturer: "AMD", Name: "Radeon Pro V520", Count: 1, MemoryMiB: 8192}}, false},
		{"g4ad.16xlarge", []GPU{{Manufacturer: "AMD", Name: "Radeon Pro V520", Count: 4, MemoryMiB: 8192}}, false},
		{"g5.xlarge", nv("A10G", 1, 24576), true},
		{"g5.48xlarge", nv("A10G", 8, 24576), true},
		{"g5g.xlarge", nv("T4g", 1, 16384), true},
		{"g5g.16xlarge", nv("T4g", 2, 16384), true},
		{"g6.xlarge", nv("L4", 1, 24576), true},
		{"g6.12xlarge", nv("L4", 4, 24576), true},
		{"g6e.xlarge", nv("L40S", 1, 49152), true},
		{"g6e.48xlarge", nv("L40S", 8, 49152), true},
		{"gr6.4xlarge", nv("L4", 1, 24576), true},
		{"p3.2xlarge", nv("V100", 1, 16384), true},
		{"p3.16xlarge", nv("V100", 8, 16384), true},
		{"p4d.24xlarge", nv("A100", 8, 40960), true},
		{"p5.48xlarge", nv("H100", 8, 81920), true},
		{"t2.micro", nil, false},
		{"t3.medium", nil, false},
		{"t3a.xlarge", nil, false},
		{"m5.large", nil, false},
		{"m6i.2xlarge", nil, false},
		{"c5.xlarge", nil, false},
		{"c6i.large", nil, false},
		{"r5.2xlarge", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.instanceType, func(t *testing.T) {
			got, err := Catalog{}.Detect(t.Context(), tt.instanceType)
			require.NoError(t, err)
			want := Info{InstanceType: tt.instanceType, GPUs: tt.gpus, Source: SourceCatalog, CatalogDate: "2026-11-25"}
			assert.Equal(t, want, got, "Detect(%s)", tt.instanceType)
			assert.Equal(t, tt.nvidia, got.HasNVIDIA(), "HasNVIDIA() of %s", tt.instanceType)
		})
	}
}

func TestCatalogUnknown(t *testing.T) {
	for _, name := range []string{"", "nope.large", "G4DN.XLARGE", "g4dn", "x2iedn.32xlarge"} {
		t.Run(name, func(t *testing.T) {
			got, err := Catalog{}.Detect(t.Context(), name)
			assert.ErrorIs(t, err, ErrUnknownInstanceType, "Detect(%q)", name)
			assert.Equal(t, Info{}, got, "Info on error for %q", name)
		})
	}
}

func TestCatalogCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := (Catalog{}).Detect(ctx, "g4dn.xlarge")
	assert.ErrorIs(t, err, context.Canceled, "Detect with a cancelled context")
}

func TestCatalogDate(t *testing.T) {
	assert.Equal(t, "2026-11-25", CatalogDate(), "CatalogDate()")
}

// TestCatalogContents checks the embedded data as a whole: every promised
// family and CPU size is present, and each GPU family is consistent.
func TestCatalogContents(t *testing.T) {
	c, err := loadCatalog()
	require.NoError(t, err)
	wantGPU := map[string]GPU{ // family -> manufacturer, name, memory per GPU
		"g4dn": {Manufacturer: "NVIDIA", Name: "T4", MemoryMiB: 16384},
		"g4ad": {Manufacturer: "AMD", Name: "Radeon Pro V520", MemoryMiB: 8192},
		"g5":   {Manufacturer: "NVIDIA", Name: "A10G", MemoryMiB: 24576},
		"g5g":  {Manufacturer: "NVIDIA", Name: "T4g", MemoryMiB: 16384},
		"g6":   {Manufacturer: "NVIDIA", Name: "L4", MemoryMiB: 24576},
		"g6e":  {Manufacturer: "NVIDIA", Name: "L40S", MemoryMiB: 49152},
		"gr6":  {Manufacturer: "NVIDIA", Name: "L4", MemoryMiB: 24576},
		"p3":   {Manufacturer: "NVIDIA", Name: "V100", MemoryMiB: 16384},
		"p4d":  {Manufacturer: "NVIDIA", Name: "A100", MemoryMiB: 40960},
		"p5":   {Manufacturer: "NVIDIA", Name: "H100", MemoryMiB: 81920},
	}
	seen := map[string]int{}
	for name, gpus := range c.types {
		family, _, _ := strings.Cut(name, ".")
		want, isGPU := wantGPU[family]
		if !isGPU {
			assert.Nil(t, gpus, "%s: GPUs of a CPU-only type", name)
			continue
		}
		seen[family]++
		if !assert.Len(t, gpus, 1, "%s: GPU kinds", name) {
			continue
		}
		got := gpus[0]
		got.Count = 0
		assert.Equal(t, want, got, "%s: GPU apart from its count", name)
	}
	for family := range wantGPU {
		assert.NotZero(t, seen[family], "family %s missing from the catalog", family)
	}
	var cpu []string
	for _, fam := range []string{"t2", "t3", "t3a"} {
		for _, size := range []string{"micro", "small", "medium", "large", "xlarge"} {
			cpu = append(cpu, fam+"."+size)
		}
	}
	for _, fam := range []string{"m5", "m6i", "c5", "c6i", "r5"} {
		for _, size := range []string{"large", "xlarge", "2xlarge"} {
			cpu = append(cpu, fam+"."+size)
		}
	}
	for _, name := range cpu {
		gpus, ok := c.types[name]
		if assert.True(t, ok, "%s missing from the catalog", name) {
			assert.Nil(t, gpus, "%s: GPUs of a CPU-only type", name)
		}
	}
}

func TestParseCatalogRejectsBadData(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"not JSON", `{`},
		{"no date", `{"instanceTypes": []}`},
		{"no name", `{"taken": "2026-11-25", "instanceTypes": [{}]}`},
		{"duplicate", `{"taken": "2026-11-25", "instanceTypes": [{"instanceType": "a.b"}, {"instanceType": "a.b"}]}`},
		{"incomplete GPU", `{"taken": "2026-11-25", "instanceTypes": [{"instanceType": "a.b", "gpus": [{"manufacturer": "NVIDIA"}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCatalog([]byte(tt.data))
			assert.Error(t, err, "parseCatalog of %s", tt.name)
		})
	}
}
