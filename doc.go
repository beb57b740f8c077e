// Package lablink holds the allocator's typed configuration (see Config).
package lablink
