package lablink

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Conditions a FieldError wraps; test for them with errors.Is.
var (
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
// path ("machine.machine_type"). Line is the 1-based line in the file when
// known (loading errors) and 0 otherwise (Validate). File is the file name
// given to LoadConfig, or "".
type FieldError struct {
	File string
	Line int
	Path string
	Err  error
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	b.WriteString(e.Path)
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// LoadConfig reads, decodes and validates the config file at path (see
// ParseConfig). Errors and warnings name the file, line and YAML path.
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
// Every problem of the file is reported at once, as errors.Join of
// *FieldError: unknown keys, duplicate keys and values of the wrong type
// (never coerced), together with every problem Validate finds in what
// could be decoded, each with the line of its key. A key that an upstream
// release removed still loads with its old meaning and yields a Warning
// (see Deprecations); warnings are returned whether or not there are
// errors.
//
// The returned Config holds what could be decoded, even when err is not
// nil, so that a caller can report on it; it must not be used to launch.
func ParseConfig(data []byte) (Config, []Warning, error) {
	return parseConfig(data, "")
}

func parseConfig(data []byte, file string) (Config, []Warning, error) {
	cfg := DefaultConfig()
	d := decoder{file: file, lines: map[string]int{}}
	if len(bytes.TrimSpace(data)) > 0 {
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			if file != "" {
				return Config{}, nil, fmt.Errorf("parse config %s: %w", file, err)
			}
			return Config{}, nil, fmt.Errorf("parse config: %w", err)
		}
		d.value(&doc, reflect.ValueOf(&cfg).Elem(), "")
	}
	errs := d.errs
	for _, err := range unwrapJoin(cfg.Validate()) {
		var fe *FieldError
		if errors.As(err, &fe) {
			if d.failed[fe.Path] {
				continue // its value is the default; the decode error says why
			}
			fe.File = file
			fe.Line = d.line(fe.Path)
		}
		errs = append(errs, err)
	}
	return cfg, d.warnings, errors.Join(errs...)
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

// decoder walks a yaml.Node tree against a struct, collecting one
// FieldError per problem instead of stopping at the first, which is what
// yaml.v3's own KnownFields decoding does.
type decoder struct {
	file     string
	errs     []error
	warnings []Warning
	// lines maps the YAML path of every key in the file to its line.
	lines map[string]int
	// failed holds the paths whose values could not be decoded.
	failed map[string]bool
}

func (d *decoder) fail(n *yaml.Node, path string, err error) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: n.Line, Path: path, Err: err})
	if d.failed == nil {
		d.failed = map[string]bool{}
	}
	d.failed[path] = true
}

// line returns the line of path's key in the file, or of the nearest
// enclosing key the file has, or 0.
func (d *decoder) line(path string) int {
	for p := path; p != ""; {
		if l, ok := d.lines[p]; ok {
			return l
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// value decodes n into v, whose YAML path is path ("" at the top).
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			d.value(n.Content[0], v, path)
		}
		return
	case yaml.AliasNode:
		d.value(n.Alias, v, path)
		return
	}
	if n.ShortTag() == "!!null" {
		return // keep the default
	}
	name := path
	if name == "" {
		name = "(top level)"
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, name, fmt.Errorf("%w: want a mapping, got %s", ErrWrongType, describe(n)))
			return
		}
		d.mapping(n, v, path)
	case reflect.Slice:
		d.stringList(n, v, name)
	default:
		d.scalar(n, v, name)
	}
}

// scalar decodes a string, integer or boolean; name is the YAML path.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, name string) {
	switch v.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			d.fail(n, name, fmt.Errorf("%w: want a string, got %s (quote it if it is meant as text)", ErrWrongType, describe(n)))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.fail(n, name, fmt.Errorf("%w: want an integer, got %s", ErrWrongType, describe(n)))
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, name, fmt.Errorf("%w: want true or false, got %s", ErrWrongType, describe(n)))
			return
		}
		v.SetBool(b)
	default:
		// Config holds only the kinds above; a new kind must be added here.
		d.fail(n, name, fmt.Errorf("field of kind %s is not supported", v.Kind()))
	}
}

// stringList decodes a list of strings, failing each item that is not a
// string on its own and keeping the rest; name is the YAML path.
func (d *decoder) stringList(n *yaml.Node, v reflect.Value, name string) {
	if v.Type().Elem().Kind() != reflect.String {
		d.fail(n, name, fmt.Errorf("field of kind %s is not supported", v.Kind()))
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, name, fmt.Errorf("%w: want a list of strings, got %s", ErrWrongType, describe(n)))
		return
	}
	list := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		if item.Kind == yaml.AliasNode {
			item = item.Alias
		}
		if item.Kind != yaml.ScalarNode || item.ShortTag() != "!!str" {
			d.fail(item, fmt.Sprintf("%s[%d]", name, i), fmt.Errorf("%w: want a string, got %s (quote it if it is meant as text)", ErrWrongType, describe(item)))
			continue
		}
		list = append(list, item.Value)
	}
	v.Set(reflect.ValueOf(list))
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	fields := fieldsByKey(v.Type())
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		child := key
		if key == "" {
			child = `""` // an empty (or null) key still needs a name in errors
		}
		if path != "" {
			child = path + "." + child
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, fmt.Errorf("%w: keys must be plain strings", ErrWrongType))
			continue
		}
		if line, dup := seen[key]; dup {
			d.fail(k, child, fmt.Errorf("%w: first defined on line %d", ErrDuplicateKey, line))
			continue
		}
		seen[key] = k.Line
		idx, ok := fields[key]
		if !ok {
			d.fail(k, child, ErrUnknownKey)
			continue
		}
		d.lines[child] = k.Line
		if dep, ok := deprecationOf(child); ok {
			d.warnings = append(d.warnings, Warning{File: d.file, Line: k.Line, Deprecation: dep})
		}
		d.value(val, v.Field(idx), child)
	}
}

// fieldsByKey maps YAML keys to struct field indexes.
func fieldsByKey(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if key != "" && key != "-" {
			m[key] = i
		}
	}
	return m
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!str":
		return fmt.Sprintf("string %q", n.Value)
	case "!!int":
		return "integer " + n.Value
	case "!!float":
		return "number " + n.Value
	case "!!bool":
		return "boolean " + n.Value
	}
	return fmt.Sprintf("%s %q", n.ShortTag(), n.Value)
}
