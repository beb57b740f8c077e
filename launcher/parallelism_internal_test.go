package launcher

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParallelism(t *testing.T) {
	tests := []struct {
		name                string
		fixed, max, planned int
		want                int
	}{
		{"one VM: OpenTofu's default", 0, 100, 1, 10},
		{"a class at once", 0, 100, 64, 64},
		{"capped", 0, 100, 500, 100},
		{"a lower cap", 0, 20, 64, 20},
		{"fixed wins", 5, 100, 64, 5},
	}
	for _, tt := range tests {
		w := &workingDir{fixedParallelism: tt.fixed, maxParallelism: tt.max}
		assert.Equal(t, tt.want, w.parallelism(tt.planned), tt.name)
	}
}
