package lablink_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lablink-go/lablink"
)

func TestEnvironmentName(t *testing.T) {
	tests := []struct {
		name, config, env, want string
	}{
		{"neither: prod", "", "", "prod"},
		{"config only", "test", "", "test"},
		{"ENVIRONMENT wins", "test", "ci-test", "ci-test"},
		{"blank ENVIRONMENT is unset", "dev", "   ", "dev"},
		{"ENVIRONMENT normalized", "", "  Spring Term ", "spring-term"},
		{"config normalized", "Dev Lab", "", "dev-lab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := lablink.DefaultConfig()
			c.Environment = tt.config
			assert.Equal(t, tt.want, c.EnvironmentName(tt.env))
		})
	}
	c := lablink.DefaultConfig()
	assert.Equal(t, "sleap-lablink-client-prod", c.ResourcePrefix(c.EnvironmentName("")))
}

func TestNormalizeEnvironment(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty is prod", "", "prod"},
		{"blank is prod", " \t\n", "prod"},
		{"plain", "staging", "staging"},
		{"trimmed and lowercased", "  Staging Env ", "staging-env"},
		{"whitespace run is one hyphen", "a \t\n b", "a-b"},
		{"hyphens kept", "dev-1", "dev-1"},
		{"uppercase", "PROD", "prod"},
		{"other characters left alone", "dev_1.x", "dev_1.x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, lablink.NormalizeEnvironment(tt.in), "NormalizeEnvironment(%q)", tt.in)
		})
	}
}
