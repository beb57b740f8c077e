package inventory

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIndexOf(t *testing.T) {
	tests := []struct {
		name, deployment, vm string
		want                 int
	}{
		{"first", "d", "d-vm-1", 0},
		{"tenth", "d", "d-vm-10", 9},
		{"prefix that looks like a name", "a-vm-1", "a-vm-1-vm-2", 1},
		{"zero", "d", "d-vm-0", -1},
		{"leading zero", "d", "d-vm-01", -1},
		{"no number", "d", "d-vm-", -1},
		{"sign", "d", "d-vm-+1", -1},
		{"trailing text", "d", "d-vm-1x", -1},
		{"another deployment", "d", "e-vm-1", -1},
		{"no deployment", "", "-vm-1", -1},
		{"overflow", "d", "d-vm-99999999999999999999999", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, indexOf(tt.deployment, tt.vm), "indexOf(%q, %q)", tt.deployment, tt.vm)
		})
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "i-0abc", "i-0abc"},
		{"path", "/srv/lab/x.json", "/srv/lab/x.json"},
		{"option", "-chdir=/a,b:c@d%e+f", "-chdir=/a,b:c@d%e+f"},
		{"empty", "", "''"},
		{"space", "a b", "'a b'"},
		{"quote", "it's", `'it'\''s'`},
		{"expansion", "$(id) `id` ${HOME}", "'$(id) `id` ${HOME}'"},
		{"brackets", "aws_instance.lablink_vm[3]", "'aws_instance.lablink_vm[3]'"},
		{"glob", "*.json", "'*.json'"},
		{"non-ASCII", "ünï", "'ünï'"},
		{"newline", "a\nb", "'a\nb'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, shellQuote(tt.in))
		})
	}
}
