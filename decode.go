package lablink

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// decoder walks a YAML syntax tree against a struct, collecting one
// FieldError per problem instead of stopping at the first, so that a file
// with three mistakes gets three errors, each with its path and line.
type decoder struct {
	file     string
	errs     []error
	warnings []Warning
	// lines maps the YAML path of every key in the file to its line.
	lines map[string]int
	// failed holds the paths whose values could not be decoded.
	failed map[string]bool
	// anchors holds every anchor of the document in document order, so an
	// alias resolves to the last anchor of its name before it.
	anchors map[string][]*ast.AnchorNode
}

func (d *decoder) fail(line int, path string, err error) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Path: path, Err: err})
	if d.failed == nil {
		d.failed = map[string]bool{}
	}
	d.failed[path] = true
}

// set reports whether the file holds the key at path.
func (d *decoder) set(path string) bool {
	_, ok := d.lines[path]
	return ok
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

// document decodes the body of the file's document into cfg.
func (d *decoder) document(body ast.Node, cfg *Config) {
	d.anchors = map[string][]*ast.AnchorNode{}
	collectAnchors(body, d.anchors)
	d.value(body, reflect.ValueOf(cfg).Elem(), "", lineOf(body))
}

// collectAnchors records the anchors under n in document order.
func collectAnchors(n ast.Node, into map[string][]*ast.AnchorNode) {
	switch n := n.(type) {
	case *ast.AnchorNode:
		if n.Name != nil {
			name := n.Name.GetToken().Value
			into[name] = append(into[name], n)
		}
		collectAnchors(n.Value, into)
	case *ast.TagNode:
		collectAnchors(n.Value, into)
	case *ast.MappingNode:
		for _, mv := range n.Values {
			collectAnchors(mv, into)
		}
	case *ast.MappingValueNode:
		collectAnchors(n.Key, into)
		collectAnchors(n.Value, into)
	case *ast.MappingKeyNode:
		collectAnchors(n.Value, into)
	case *ast.SequenceNode:
		for _, v := range n.Values {
			collectAnchors(v, into)
		}
	}
}

// resolve strips anchors and follows aliases; it reports an alias that
// names no anchor defined before it.
func (d *decoder) resolve(n ast.Node) (ast.Node, error) {
	for {
		switch a := n.(type) {
		case *ast.AnchorNode:
			n = a.Value
		case *ast.AliasNode:
			name := a.Value.GetToken().Value
			target := d.anchorBefore(name, a.GetToken().Position.Offset)
			if target == nil {
				return nil, fmt.Errorf("%w: alias *%s names no anchor &%s defined above it", ErrWrongType, name, name)
			}
			n = target.Value
		default:
			return n, nil
		}
	}
}

func (d *decoder) anchorBefore(name string, offset int) *ast.AnchorNode {
	var last *ast.AnchorNode
	for _, a := range d.anchors[name] {
		if a.GetToken().Position.Offset < offset {
			last = a
		}
	}
	return last
}

// lineOf is the 1-based line of n, or 0.
func lineOf(n ast.Node) int {
	if n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

// value decodes n into v, whose YAML path is path ("" at the top); line
// is the line errors about the value name: its key's, or a list item's.
func (d *decoder) value(n ast.Node, v reflect.Value, path string, line int) {
	name := nameOf(path)
	n, err := d.resolve(n)
	if err != nil {
		d.fail(line, name, err)
		return
	}
	s := classify(n)
	if s.kind == yamlNull {
		return // keep the default
	}
	switch v.Kind() {
	case reflect.Struct:
		m, ok := asMapping(n)
		if !ok {
			d.fail(line, name, fmt.Errorf("%w: want a section of indented \"key: value\" lines, got %s", ErrWrongType, s.describe()))
			return
		}
		d.mapping(m, v, path)
	case reflect.Slice:
		d.stringList(n, s, v, name, line)
	default:
		d.scalar(s, v, name, line)
	}
}

// scalar decodes a string, integer or boolean; name is the YAML path.
func (d *decoder) scalar(s scalarInfo, v reflect.Value, name string, line int) {
	switch v.Kind() {
	case reflect.String:
		if s.kind != yamlString {
			d.fail(line, name, fmt.Errorf("%w: want a string, got %s; quote it if it is meant as text", ErrWrongType, s.describe()))
			return
		}
		v.SetString(s.text)
	case reflect.Int:
		if s.kind != yamlInt {
			hint := ""
			if s.kind == yamlString {
				hint = "; write the number without quotes"
			}
			d.fail(line, name, fmt.Errorf("%w: want an integer, got %s%s", ErrWrongType, s.describe(), hint))
			return
		}
		if s.overflow {
			d.fail(line, name, fmt.Errorf("%w: want an integer, got %s, which is too large", ErrWrongType, s.describe()))
			return
		}
		v.SetInt(s.int)
	case reflect.Bool:
		if s.kind != yamlBool {
			d.fail(line, name, fmt.Errorf("%w: want true or false, got %s; write true or false without quotes", ErrWrongType, s.describe()))
			return
		}
		v.SetBool(s.bool)
	default:
		// Config holds only the kinds above; a new kind must be added here.
		d.fail(line, name, fmt.Errorf("field of kind %s is not supported", v.Kind()))
	}
}

// stringList decodes a list of strings, failing each item that is not a
// string on its own and keeping the rest; name is the YAML path.
func (d *decoder) stringList(n ast.Node, s scalarInfo, v reflect.Value, name string, line int) {
	if v.Type().Elem().Kind() != reflect.String {
		d.fail(line, name, fmt.Errorf("field of kind %s is not supported", v.Kind()))
		return
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.fail(line, name, fmt.Errorf("%w: want a list of strings such as [a, b], got %s", ErrWrongType, s.describe()))
		return
	}
	list := make([]string, 0, len(seq.Values))
	for i, item := range seq.Values {
		itemName, itemLine := fmt.Sprintf("%s[%d]", name, i), lineOf(item)
		item, err := d.resolve(item)
		if err != nil {
			d.fail(itemLine, itemName, err)
			continue
		}
		is := classify(item)
		if is.kind != yamlString {
			d.fail(itemLine, itemName, fmt.Errorf("%w: want a string, got %s; quote it if it is meant as text", ErrWrongType, is.describe()))
			continue
		}
		list = append(list, is.text)
	}
	v.Set(reflect.ValueOf(list))
}

// asMapping returns n as a mapping; goccy gives a one-key mapping as a
// bare MappingValueNode in some positions.
func asMapping(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch n := n.(type) {
	case *ast.MappingNode:
		return n.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{n}, true
	case *ast.TagNode:
		if n.Start.Value == "!!map" {
			return asMapping(n.Value)
		}
	}
	return nil, false
}

func (d *decoder) mapping(values []*ast.MappingValueNode, v reflect.Value, path string) {
	fields := fieldsByKey(v.Type())
	seen := make(map[string]int, len(values))
	for _, mv := range values {
		kline := lineOf(mv.Key)
		key, ok := d.keyText(mv.Key)
		if !ok {
			d.fail(kline, nameOf(path), fmt.Errorf("%w: a key must be a plain word such as machine_type, not %s", ErrWrongType, classify(mv.Key).describe()))
			continue
		}
		child := joinPath(path, key)
		if key == "" {
			child = joinPath(path, `""`) // an empty (or null) key still needs a name in errors
		}
		if first, dup := seen[key]; dup {
			d.fail(kline, child, fmt.Errorf("%w: first set on line %d; keep one of the two", ErrDuplicateKey, first))
			continue
		}
		seen[key] = kline
		idx, ok := fields[key]
		if !ok {
			d.fail(kline, child, unknownKey(v.Type(), path, key))
			continue
		}
		d.lines[child] = kline
		if dep, ok := deprecationOf(child); ok {
			d.warnings = append(d.warnings, Warning{File: d.file, Line: kline, Deprecation: dep})
		}
		d.value(mv.Value, v.Field(idx), child, kline)
	}
}

// keyText is the text of a scalar key; false for a list or mapping key.
func (d *decoder) keyText(k ast.Node) (string, bool) {
	if mk, ok := k.(*ast.MappingKeyNode); ok { // "? key"
		k = mk.Value
	}
	k, err := d.resolve(k)
	if err != nil {
		return "", false
	}
	if _, ok := k.(*ast.MergeKeyNode); ok {
		return "<<", true
	}
	s := classify(k)
	switch s.kind {
	case yamlMapping, yamlList, yamlOther:
		return "", false
	case yamlNull:
		return "", true
	case yamlString:
		return s.text, true
	}
	return k.GetToken().Value, true
}

func nameOf(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

// fieldsByKey maps YAML keys to struct field indexes.
func fieldsByKey(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if key := yamlKey(t.Field(i)); key != "" {
			m[key] = i
		}
	}
	return m
}

// yamlKey is the YAML key of struct field f, "" for a field without one.
func yamlKey(f reflect.StructField) string {
	key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if key == "-" {
		return ""
	}
	return key
}
