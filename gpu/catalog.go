package gpu

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	_ "embed"
)

//go:embed catalog.json
var catalogJSON []byte

// Catalog answers from an embedded offline list of common instance types
// (current GPU families and common CPU-only types), taken on CatalogDate.
// It makes no network calls. Its zero value is ready to use and it is safe
// for concurrent use.
type Catalog struct{}

// Detect returns the GPUs of instanceType from the catalog, with Source set
// to SourceCatalog and CatalogDate set. An instance type missing from the
// catalog yields an error matching ErrUnknownInstanceType: the catalog is a
// sample, so that does not prove EC2 lacks the type. ctx is only checked for
// cancellation.
func (Catalog) Detect(ctx context.Context, instanceType string) (Info, error) {
	if instanceType == "" {
		return Info{}, fmt.Errorf("gpu: empty instance type: %w", ErrUnknownInstanceType)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("gpu: catalog: instance type %s: %w", instanceType, err)
	}
	c, err := loadCatalog()
	if err != nil {
		return Info{}, err
	}
	gpus, ok := c.types[instanceType]
	if !ok {
		return Info{}, fmt.Errorf("gpu: catalog of %s: instance type %s: %w", c.taken, instanceType, ErrUnknownInstanceType)
	}
	return Info{
		InstanceType: instanceType,
		GPUs:         gpus,
		Source:       SourceCatalog,
		CatalogDate:  c.taken,
	}.clone(), nil
}

// CatalogDate returns the date (YYYY-MM-DD) the embedded catalog was taken.
func CatalogDate() string {
	c, err := loadCatalog()
	if err != nil {
		return ""
	}
	return c.taken
}

type catalog struct {
	taken string
	types map[string][]GPU // nil slice: no GPU
}

// catalogFile is the layout of catalog.json.
type catalogFile struct {
	Taken         string `json:"taken"`
	InstanceTypes []struct {
		InstanceType string `json:"instanceType"`
		GPUs         []struct {
			Manufacturer string `json:"manufacturer"`
			Name         string `json:"name"`
			Count        int    `json:"count"`
			MemoryMiB    int    `json:"memoryMiB"`
		} `json:"gpus"`
	} `json:"instanceTypes"`
}

var loadCatalog = sync.OnceValues(func() (*catalog, error) {
	return parseCatalog(catalogJSON)
})

func parseCatalog(data []byte) (*catalog, error) {
	var f catalogFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("gpu: embedded catalog: %w", err)
	}
	if f.Taken == "" {
		return nil, fmt.Errorf("gpu: embedded catalog: no taken date")
	}
	c := &catalog{taken: f.Taken, types: make(map[string][]GPU, len(f.InstanceTypes))}
	for _, it := range f.InstanceTypes {
		if it.InstanceType == "" {
			return nil, fmt.Errorf("gpu: embedded catalog: entry without instanceType")
		}
		if _, dup := c.types[it.InstanceType]; dup {
			return nil, fmt.Errorf("gpu: embedded catalog: duplicate %s", it.InstanceType)
		}
		var gpus []GPU
		for _, g := range it.GPUs {
			if g.Manufacturer == "" || g.Name == "" || g.Count <= 0 || g.MemoryMiB <= 0 {
				return nil, fmt.Errorf("gpu: embedded catalog: %s: incomplete GPU entry", it.InstanceType)
			}
			gpus = append(gpus, GPU(g))
		}
		c.types[it.InstanceType] = gpus
	}
	return c, nil
}
