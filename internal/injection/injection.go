// Package injection holds the hostile-value corpus the injection tests use
// (testdata/injection.json at the repository root, written by
// testdata/gen_injection.go) and puts its values into config.yaml.
package injection

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/lablink-go/lablink"
)

// Corpus returns the hostile values of testdata/injection.json.
func Corpus() ([]string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return nil, fmt.Errorf("injection: cannot locate the corpus")
	}
	p := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "injection.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("injection: %w", err)
	}
	var vals []string
	if err := json.Unmarshal(data, &vals); err != nil {
		return nil, fmt.Errorf("injection: %s: %w", p, err)
	}
	return vals, nil
}

// StringFields returns the YAML path of every string field of
// lablink.Config, in declaration order, found by reflection so that a new
// field is covered without editing the tests.
func StringFields() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			switch f.Type.Kind() {
			case reflect.Struct:
				walk(f.Type, prefix+name+".")
			case reflect.String:
				out = append(out, prefix+name)
			}
		}
	}
	walk(reflect.TypeFor[lablink.Config](), "")
	return out
}

// placeholder marks the injected value in a Template.
const placeholder = "lablink-injection-placeholder"

// Template is a config.yaml with one string field to be filled in.
type Template struct {
	doc []byte
}

// NewTemplate returns a Template of base with the string at the dotted
// YAML path left to fill in.
func NewTemplate(base lablink.Config, path string) (*Template, error) {
	var doc yaml.Node
	if err := doc.Encode(base); err != nil {
		return nil, err
	}
	n := &doc
	for k := range strings.SplitSeq(path, ".") {
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("injection: no key %s", path)
		}
		n = next
	}
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("injection: %s is not a scalar", path)
	}
	n.Value, n.Tag, n.Style = placeholder, "!!str", yaml.DoubleQuotedStyle
	data, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	return &Template{doc: data}, nil
}

// With returns the document with value in the template's field, written
// as a double-quoted YAML scalar with every byte outside printable ASCII
// escaped: the one YAML form that carries any string intact (yaml.v3's
// own choice of a block scalar drops a leading newline). Go's ASCII
// quoting uses only escapes that YAML's double-quoted style shares.
func (t *Template) With(value string) []byte {
	return bytes.Replace(t.doc, []byte(strconv.Quote(placeholder)), []byte(strconv.QuoteToASCII(value)), 1)
}

// Document is NewTemplate(base, path).With(value).
func Document(base lablink.Config, path, value string) ([]byte, error) {
	t, err := NewTemplate(base, path)
	if err != nil {
		return nil, err
	}
	return t.With(value), nil
}

// Field returns the string field of cfg at the dotted YAML path.
func Field(cfg lablink.Config, path string) (string, error) {
	v := reflect.ValueOf(cfg)
	for k := range strings.SplitSeq(path, ".") {
		found := false
		for i := range v.NumField() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			if name == k {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return "", fmt.Errorf("injection: no field %s", path)
		}
	}
	if v.Kind() != reflect.String {
		return "", fmt.Errorf("injection: %s is not a string", path)
	}
	return v.String(), nil
}
