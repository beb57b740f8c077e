package main

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lablink-go/lablink"
)

// minPasswordLen is the shortest admin password the server accepts.
const minPasswordLen = 12

// errWeakPassword is matched by every checkAdminPassword error.
var errWeakPassword = errors.New("app.admin_password is not fit for a server")

// placeholders are words that mark a password someone meant to replace.
// A password that, lowercased and stripped of everything but letters and
// digits, contains one of them is refused, so "CHANGE_ME", "change-me-now!"
// and "<your password here>" all count.
var placeholders = []string{
	"changeme", "changeit", "replaceme", "placeholder", "password",
	"yourpass", "fillmein", "setme", "todo", "fixme", "example", "default",
	"secret", "letmein", "qwerty", "123456",
}

// checkAdminPassword refuses the passwords an allocator must not serve
// with: empty, upstream's placeholders ("MISSING", "PLACEHOLDER_*") or
// its old default "admin_password", shorter than
// minPasswordLen characters, a placeholder, an unexpanded template
// ("${ADMIN_PASSWORD}", "{{ .pw }}", "<password>"), one repeated
// character, or the user name itself.
func checkAdminPassword(app lablink.App) error {
	pw := app.AdminPassword.Reveal()
	def := lablink.DefaultConfig().App.AdminPassword.Reveal()
	switch {
	case pw == "":
		return fmt.Errorf("%w: it is empty", errWeakPassword)
	case pw == def || lablink.IsUnresolvedSecret(pw):
		return fmt.Errorf("%w: it is the unfilled placeholder %q", errWeakPassword, pw)
	case pw == "admin_password":
		return fmt.Errorf("%w: it is the old default %q", errWeakPassword, pw)
	case strings.TrimSpace(pw) != pw:
		return fmt.Errorf("%w: it starts or ends with white space", errWeakPassword)
	case utf8.RuneCountInString(pw) < minPasswordLen:
		return fmt.Errorf("%w: it has fewer than %d characters", errWeakPassword, minPasswordLen)
	case strings.Contains(pw, "${") || strings.Contains(pw, "{{") ||
		(strings.HasPrefix(pw, "<") && strings.HasSuffix(pw, ">")):
		return fmt.Errorf("%w: it looks like an unexpanded template", errWeakPassword)
	case strings.EqualFold(pw, app.AdminUser):
		return fmt.Errorf("%w: it equals app.admin_user", errWeakPassword)
	case repeatsOneRune(pw):
		return fmt.Errorf("%w: it repeats one character", errWeakPassword)
	}
	norm := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, pw)
	for _, p := range placeholders {
		if strings.Contains(norm, p) {
			return fmt.Errorf("%w: it contains the placeholder %q", errWeakPassword, p)
		}
	}
	return nil
}

func repeatsOneRune(s string) bool {
	_, size := utf8.DecodeRuneInString(s)
	return strings.Count(s, s[:size])*size == len(s)
}
