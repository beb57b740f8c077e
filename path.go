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
		idx, ok := fieldsByKey(v.Type())[key]
		if !ok {
			return nil, false
		}
		v = v.Field(idx)
	}
	return v.Interface(), true
}
