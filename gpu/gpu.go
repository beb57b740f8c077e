package gpu

import (
	"errors"
	"strings"
)

// ErrUnknownInstanceType is matched (with errors.Is) by the error for an
// instance type that EC2 or the catalog does not know, and for an empty
// instance type name. With EC2 the error also wraps the SDK's error, whose
// code is "InvalidInstanceType".
var ErrUnknownInstanceType = errors.New("unknown instance type")

// GPU is one kind of accelerator in an instance type. MemoryMiB is the
// memory of a single GPU; Count is how many of them the instance has.
type GPU struct {
	Manufacturer string
	Name         string
	Count        int
	MemoryMiB    int
}

// Source says where an Info came from.
type Source string

const (
	// SourceAPI marks an answer from EC2's DescribeInstanceTypes.
	SourceAPI Source = "ec2-api"
	// SourceCatalog marks an answer from the embedded offline catalog.
	SourceCatalog Source = "catalog"
)

// Info is what is known about the GPUs of one instance type.
type Info struct {
	InstanceType string
	// Region is the region EC2 was asked in: Options.Region, or the client's
	// own region when that is empty. It is empty for catalog answers.
	Region string
	// GPUs is nil for an instance type without GPUs.
	GPUs   []GPU
	Source Source
	// CatalogDate is the date the catalog was taken (YYYY-MM-DD); it is set
	// only when Source is SourceCatalog.
	CatalogDate string
}

// HasNVIDIA reports whether some GPU's manufacturer contains "nvidia",
// ignoring case. It is false for an instance type without GPUs.
func (i Info) HasNVIDIA() bool {
	for _, g := range i.GPUs {
		if strings.Contains(strings.ToLower(g.Manufacturer), "nvidia") {
			return true
		}
	}
	return false
}
