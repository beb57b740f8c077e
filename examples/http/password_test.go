package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lablink-go/lablink"
)

func TestCheckAdminPassword(t *testing.T) {
	tests := []struct {
		name, user, password string
		ok                   bool
	}{
		{"empty", "admin", "", false},
		{"unfilled upstream default", "admin", lablink.MissingSecret, false},
		{"template placeholder", "admin", "PLACEHOLDER_ADMIN_PASSWORD_LONG", false},
		{"old upstream default", "admin", "admin_password", false},
		{"short", "admin", "Xk9#mQ2!vL", false},
		{"eleven characters", "admin", "Xk9#mQ2!vLp", false},
		{"twelve characters", "admin", "Xk9#mQ2!vLpz", true},
		{"eleven runes, more bytes", "admin", "ĸ9#mQ2!vLpé", false},
		{"long passphrase", "admin", "correct-horse-battery-staple", true},
		{"changeme", "admin", "changeme", false},
		{"CHANGE_ME padded", "admin", "CHANGE_ME_PLEASE_NOW", false},
		{"change-me", "admin", "please-change-me-42", false},
		{"password", "admin", "password", false},
		{"password with digits", "admin", "Password123456", false},
		{"placeholder", "admin", "<placeholder-value>", false},
		{"your password here", "admin", "<your password here>", false},
		{"template", "admin", "${ADMIN_PASSWORD}xyz", false},
		{"go template", "admin", "{{ .AdminPassword }}", false},
		{"replace me", "admin", "REPLACE-ME-before-deploy", false},
		{"example", "admin", "example-admin-pass", false},
		{"repeated", "admin", "aaaaaaaaaaaaaaaa", false},
		{"user name", "administrator", "Administrator", false},
		{"leading space", "admin", " Xk9#mQ2!vLpz", false},
		{"random", "admin", "v7Gq-2LpX-9wZr-Tn4K", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkAdminPassword(lablink.App{AdminUser: tc.user, AdminPassword: lablink.Secret(tc.password)})
			if tc.ok {
				assert.NoError(t, err, "checkAdminPassword(%q)", tc.password)
				return
			}
			assert.ErrorIs(t, err, errWeakPassword, "checkAdminPassword(%q)", tc.password)
		})
	}
}
