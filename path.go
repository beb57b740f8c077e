package lablink

import (
	"reflect"
	"strings"
)

// Field returns the value at a dotted YAML path of c ("machine.software",
// "monitoring.process_allowlist"): a string, int, bool or []string, or a
// section struct. It reports false for a path Config does not have.
//
// Field reads by YAML key, not through Go field names, so that a check of
// what reached the runtime tfvars can name and read the config key the
// operator wrote, independently of the code that produced the file.
func (c Config) Field(path string) (any, bool) {
	v := reflect.ValueOf(c)
	for key := range strings.SplitSeq(path, ".") {
		if v.Kind() != reflect.Struct {
			return nil, false
		}
		idx := fieldIndex(v.Type(), key)
		if idx < 0 {
			return nil, false
		}
		v = v.Field(idx)
	}
	return v.Interface(), true
}

// fieldIndex is the index of the field of struct type t whose YAML key is
// key, or -1. It allocates nothing: verification calls it for every
// variable of every render.
func fieldIndex(t reflect.Type, key string) int {
	for i := range t.NumField() {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k == key && key != "" && key != "-" {
			return i
		}
	}
	return -1
}
