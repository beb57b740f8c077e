package lablink

import (
	"reflect"
	"sync"
)

// Field returns the value at a dotted YAML path of c ("machine.software",
// "monitoring.process_allowlist"): a string, int, bool or []string, or a
// section struct. It reports false for a path Config does not have.
//
// Field reads by YAML key, not through Go field names, so that a check of
// what reached the runtime tfvars can name and read the config key the
// operator wrote, independently of the code that produced the file.
func (c Config) Field(path string) (any, bool) {
	index, ok := yamlPaths()[path]
	if !ok {
		return nil, false
	}
	return reflect.ValueOf(c).FieldByIndex(index).Interface(), true
}

// yamlPaths maps every dotted YAML path of Config to its field's index
// sequence, found once from the struct tags: verification reads a field
// for every variable of every render, and walking the tags each time was
// a third of a render's time.
var yamlPaths = sync.OnceValue(func() map[string][]int {
	paths := make(map[string][]int)
	addPaths(paths, reflect.TypeFor[Config](), "", nil)
	return paths
})

// addPaths adds the paths of the fields of struct type t, below prefix
// and index, and of the structs they hold.
func addPaths(paths map[string][]int, t reflect.Type, prefix string, index []int) {
	for i := range t.NumField() {
		key := yamlKey(t.Field(i))
		if key == "" {
			continue
		}
		path, idx := prefix+key, append(append([]int(nil), index...), i)
		paths[path] = idx
		if ft := t.Field(i).Type; ft.Kind() == reflect.Struct {
			addPaths(paths, ft, path+".", idx)
		}
	}
}
