package lablink

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
)

// Conditions a FieldError or SyntaxError wraps; test for them with
// errors.Is.
var (
	// ErrSyntax: the file is not well-formed YAML (see SyntaxError).
	ErrSyntax = errors.New("yaml syntax error")
	// ErrUnknownKey: the file has a key Config does not know. Upstream
	// rejects these too ("Unknown key"); a typo must never silently fall
	// back to a default.
	ErrUnknownKey = errors.New("unknown key")
	// ErrWrongType: a value is not of the key's type, such as a number
	// where a string belongs. Values are never coerced.
	ErrWrongType = errors.New("wrong type")
	// ErrDuplicateKey: a key appears twice in one mapping.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrInvalidValue: a value of the right type breaks a rule of Validate.
	ErrInvalidValue = errors.New("invalid value")
)

// FieldError is a problem with one field of the config, named by its YAML
// path ("machine.machine_type").
//
// Its text reads "FILE:LINE: PATH: MESSAGE" when the file name and line
// are known (LoadConfig), "line LINE: PATH: MESSAGE" without a file name
// (ParseConfig), and "PATH: MESSAGE" from Validate, which sees no file.
type FieldError struct {
	// File is the file name given to LoadConfig, or "".
	File string
	// Line is the 1-based line of the key in the file; for a key the file
	// does not hold, the line of its section when the file holds that;
	// otherwise 0 (always 0 from Validate).
	Line int
	// Path is the YAML path, such as "ssl.email" or
	// "monitoring.process_allowlist[1]".
	Path string
	// NotSet is true when the error is about a key the file does not
	// hold, so the value in question is the default; the text then says
	// "(not set; default ...)" after the path. Only loading sets it.
	NotSet bool
	// Err is the condition (ErrUnknownKey, ErrWrongType, ErrDuplicateKey
	// or ErrInvalidValue) wrapped with what is wrong and what to do.
	Err error
}

func (e *FieldError) Error() string {
	var b strings.Builder
	writePosition(&b, e.File, e.Line)
	b.WriteString(e.Path)
	if e.NotSet {
		b.WriteString(" (not set")
		if d, ok := defaultText(e.Path); ok {
			b.WriteString("; default ")
			b.WriteString(d)
		}
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// writePosition writes "FILE:LINE: ", "FILE: ", "line LINE: " or nothing.
func writePosition(b *strings.Builder, file string, line int) {
	switch {
	case file != "" && line > 0:
		fmt.Fprintf(b, "%s:%d: ", file, line)
	case file != "":
		fmt.Fprintf(b, "%s: ", file)
	case line > 0:
		fmt.Fprintf(b, "line %d: ", line)
	}
}

// defaultText is the default value of path as the file would write it,
// or false when the default is empty or path is not a Config path.
func defaultText(path string) (string, bool) {
	v, ok := DefaultConfig().Field(path)
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v), v != ""
	case Secret:
		return "", false // a default password is still a password
	case bool, int:
		return fmt.Sprint(v), true
	case []string:
		return fmt.Sprintf("%q", v), len(v) > 0
	}
	return "", false // a section
}

// SyntaxError is a file that is not well-formed YAML. Its text reads
// "FILE:LINE: yaml syntax error: MESSAGE (column N)", or "line LINE: ..."
// without a file name, where MESSAGE says what the parser found and, for
// the common mistakes, what to do.
type SyntaxError struct {
	File string // as given to LoadConfig, or ""
	// Line and Column are 1-based and point at the offending character,
	// such as the ':' of a value that must be quoted; 0 when unknown.
	Line, Column int
	Msg          string
}

func (e *SyntaxError) Error() string {
	var b strings.Builder
	writePosition(&b, e.File, e.Line)
	b.WriteString(ErrSyntax.Error())
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Column > 0 {
		fmt.Fprintf(&b, " (column %d)", e.Column)
	}
	return b.String()
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// LoadConfig reads, decodes and validates the config file at path (see
// ParseConfig). Every error and warning starts with "PATH:LINE: ".
func LoadConfig(path string) (Config, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, nil, fmt.Errorf("load config: %w", err)
	}
	return parseConfig(data, path)
}

// ParseConfig decodes config.yaml content strictly and validates it. Keys
// missing from the file keep the defaults of DefaultConfig, and a null
// value (`repository:` with nothing after it) keeps the default too.
//
// YAML that does not parse is one *SyntaxError, with the line and column
// of the offending character. Otherwise every problem of the file is
// reported at once, as errors.Join of *FieldError: unknown keys (with the
// nearest known key when one is close), duplicate keys and values of the
// wrong type (never coerced), together with every problem Validate finds
// in what could be decoded, each with the line of its key. A rule that a
// default value breaks says so. A key that an upstream release removed
// still loads with its old meaning and yields a Warning (see
// Deprecations); warnings are returned whether or not there are errors.
//
// The returned Config holds what could be decoded, even when err is not
// nil, so that a caller can report on it; it must not be used to launch.
func ParseConfig(data []byte) (Config, []Warning, error) {
	return parseConfig(data, "")
}

func parseConfig(data []byte, file string) (Config, []Warning, error) {
	cfg := DefaultConfig()
	body, err := parseYAML(data, file)
	if err != nil {
		return Config{}, nil, err
	}
	d := decoder{file: file, lines: map[string]int{}}
	if body != nil {
		d.document(body, &cfg)
	}
	errs := d.errs
	for _, err := range unwrapJoin(cfg.validate(d.set)) {
		var fe *FieldError
		if errors.As(err, &fe) {
			if d.failed[fe.Path] {
				continue // its value is the default; the decode error says why
			}
			fe.File = file
			fe.Line = d.line(fe.Path)
			fe.NotSet = !d.set(fe.Path)
		}
		errs = append(errs, err)
	}
	// In file order, so that a reader can walk down the file; an error
	// about a section the file lacks has no line and comes last.
	slices.SortStableFunc(errs, func(a, b error) int { return cmp.Compare(errLine(a), errLine(b)) })
	return cfg, d.warnings, errors.Join(errs...)
}

// errLine is the line of a *FieldError, with 0 sorting last.
func errLine(err error) int {
	var fe *FieldError
	if errors.As(err, &fe) && fe.Line > 0 {
		return fe.Line
	}
	return math.MaxInt
}

// unwrapJoin returns the errors of an errors.Join, or err alone.
func unwrapJoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
