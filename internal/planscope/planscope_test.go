package planscope_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lablink-go/lablink/internal/planscope"
)

func TestParseVMs(t *testing.T) {
	vms, errs := planscope.ParseVMs([]string{"aws_instance.lablink_vm", "lablink_vm", "a.b.c", "a.b[0]", ".b", "a."})
	assert.True(t, vms.Has("aws_instance", "lablink_vm"))
	assert.False(t, vms.Has("aws_instance", "other"))
	assert.Len(t, vms, 1)
	var msgs []string
	for _, err := range errs {
		msgs = append(msgs, err.Error())
	}
	assert.Equal(t, []string{
		`client VM "lablink_vm": want TYPE.NAME`,
		`client VM "a.b.c": want TYPE.NAME`,
		`client VM "a.b[0]": want TYPE.NAME`,
		`client VM ".b": want TYPE.NAME`,
		`client VM "a.": want TYPE.NAME`,
	}, msgs)
}

func TestNeedsValues(t *testing.T) {
	vms, errs := planscope.ParseVMs([]string{"aws_instance.lablink_vm"})
	assert.Empty(t, errs)
	tests := []struct {
		mode, typ, name string
		actions         []string
		want            bool
	}{
		{"managed", "aws_instance", "lablink_vm", []string{"update"}, true},
		{"", "aws_instance", "lablink_vm", []string{"update"}, true},
		{"managed", "aws_instance", "lablink_vm", []string{"create"}, false},
		{"managed", "aws_instance", "lablink_vm", []string{"delete", "create"}, false},
		{"managed", "aws_instance", "other", []string{"update"}, false},
		{"managed", "aws_security_group", "x", []string{"create"}, true},
		{"managed", "aws_default_security_group", "x", []string{"update"}, true},
		{"managed", "aws_security_group_rule", "x", []string{"delete", "create"}, true},
		{"managed", "aws_security_group_rule", "x", nil, true},
		{"managed", "aws_vpc_security_group_ingress_rule", "x", []string{"frobnicate"}, true},
		{"managed", "aws_security_group", "x", []string{"delete"}, false},
		{"managed", "aws_security_group", "x", []string{"forget"}, false},
		{"managed", "aws_security_group", "x", []string{"no-op"}, false},
		{"data", "aws_security_group", "x", []string{"read"}, false},
		{"managed", "aws_iam_role", "x", []string{"update"}, false},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s %s.%s %v", tt.mode, tt.typ, tt.name, tt.actions)
		assert.Equal(t, tt.want, vms.NeedsValues(tt.mode, tt.typ, tt.name, tt.actions), name)
	}
}
