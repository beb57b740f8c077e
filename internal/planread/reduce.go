package planread

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Read spends its time in encoding/json's scanner, which walks every byte
// of what it skips as it walks what it decodes, twice (once to validate,
// once to decode). So Read first validates the document with json.Valid
// and then writes a reduced copy of it for json.Unmarshal: the members of
// the objects Read decodes are copied as they are, except that
//
//   - a member whose key matches no field of the raw type gets the value
//     0 (encoding/json skips an unknown key's value unread, whatever it
//     is, so this changes nothing), and
//   - a change's before, after and after_unknown (json.RawMessage fields,
//     which take any value unread) get a reference, a number indexing the
//     original value, which Read decodes from the original bytes where
//     plancheck.Check reads it.
//
// Keys match fields as encoding/json matches them (bytes.EqualFold on the
// unquoted key, which is what its foldName compares), and every member is
// kept in order, so repeated keys merge as before. The reduced copy thus
// decodes to what the original decodes to, errors included; the fuzz
// target FuzzReduce holds Read to the plain json.Unmarshal of the
// original.

// shape describes how the reducer treats a JSON value: copied as it is
// (the zero shape), replaced by a reference (ref), or, when it is an
// object (fields) or an array of objects (elem), rewritten member by
// member. A value of another kind than the shape expects is copied, so
// that json.Unmarshal reports its type error.
type shape struct {
	ref    bool
	fields []field
	elem   *shape
}

type field struct {
	name  string
	shape *shape
}

var (
	copied = &shape{}
	ref    = &shape{ref: true}

	changeShape = &shape{fields: []field{
		{"actions", copied}, {"before", ref}, {"after", ref}, {"after_unknown", ref},
		{"importing", copied}, {"generated_config", copied}, {"replace_paths", copied},
	}}
	resourceChangeShape = &shape{fields: []field{
		{"address", copied}, {"previous_address", copied}, {"module_address", copied},
		{"mode", copied}, {"type", copied}, {"name", copied}, {"provider_name", copied},
		{"deposed", copied}, {"change", changeShape}, {"action_reason", copied},
	}}
	stateResourceShape = &shape{fields: []field{
		{"address", copied}, {"mode", copied}, {"type", copied}, {"name", copied},
		{"provider_name", copied}, {"schema_version", copied}, {"tainted", copied},
		{"deposed_key", copied}, {"identity_schema_version", copied},
	}}
	stateShape = &shape{fields: []field{
		{"format_version", copied}, {"terraform_version", copied},
		{"values", &shape{fields: []field{
			{"root_module", &shape{fields: []field{
				{"resources", &shape{elem: stateResourceShape}},
				{"address", copied},
			}}},
		}}},
	}}
	planShape = &shape{fields: []field{
		{"format_version", copied}, {"terraform_version", copied},
		{"resource_changes", &shape{elem: resourceChangeShape}},
		{"prior_state", stateShape}, {"complete", copied}, {"timestamp", copied},
	}}
)

// reduced is a reduced copy of a plan and the original values its
// references name.
type reduced struct {
	doc  []byte
	refs [][]byte
}

// reduce writes the reduced copy of in, which must be valid JSON
// (json.Valid).
func reduce(in []byte) *reduced {
	r := &reducer{in: in, out: make([]byte, 0, 64<<10)}
	i := r.ws(0)
	r.value(i, planShape)
	return &reduced{doc: r.out, refs: r.refs}
}

// value resolves a reference made by reduce: the original bytes of the
// value, or raw itself when it is not a reference.
func (rd *reduced) value(raw json.RawMessage) ([]byte, bool) {
	n, err := strconv.Atoi(string(raw))
	if rd == nil || err != nil || n < 0 || n >= len(rd.refs) {
		return nil, false
	}
	return rd.refs[n], true
}

type reducer struct {
	in   []byte
	out  []byte
	refs [][]byte
}

// value writes the value at in[i:] treated by s and returns the index
// after it.
func (r *reducer) value(i int, s *shape) int {
	switch {
	case s.ref:
		end := r.skip(i)
		r.out = strconv.AppendInt(r.out, int64(len(r.refs)), 10)
		r.refs = append(r.refs, r.in[i:end])
		return end
	case s.fields != nil && r.in[i] == '{':
		return r.object(i, s)
	case s.elem != nil && r.in[i] == '[':
		return r.array(i, s.elem)
	}
	end := r.skip(i)
	r.out = append(r.out, r.in[i:end]...)
	return end
}

func (r *reducer) object(i int, s *shape) int {
	r.out = append(r.out, '{')
	i = r.ws(i + 1)
	first := true
	for r.in[i] != '}' {
		if !first {
			r.out = append(r.out, ',')
		}
		first = false
		keyEnd := r.skip(i)
		key := r.in[i:keyEnd]
		r.out = append(r.out, key...)
		r.out = append(r.out, ':')
		i = r.ws(r.ws(keyEnd) + 1) // past the colon
		if fs := s.lookup(key); fs != nil {
			i = r.value(i, fs)
		} else {
			i = r.skip(i)
			r.out = append(r.out, '0')
		}
		i = r.ws(i)
		if r.in[i] == ',' {
			i = r.ws(i + 1)
		}
	}
	r.out = append(r.out, '}')
	return i + 1
}

func (r *reducer) array(i int, elem *shape) int {
	r.out = append(r.out, '[')
	i = r.ws(i + 1)
	first := true
	for r.in[i] != ']' {
		if !first {
			r.out = append(r.out, ',')
		}
		first = false
		i = r.ws(r.value(i, elem))
		if r.in[i] == ',' {
			i = r.ws(i + 1)
		}
	}
	r.out = append(r.out, ']')
	return i + 1
}

// lookup returns the shape of the field a quoted key matches, as
// encoding/json matches it, or nil for a key that matches none.
func (s *shape) lookup(quoted []byte) *shape {
	key := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(key, '\\') >= 0 || !ascii(key) {
		// Unquote as encoding/json does (escapes, and invalid UTF-8 to
		// U+FFFD).
		var k string
		if err := json.Unmarshal(quoted, &k); err != nil {
			return copied // cannot happen in valid JSON; copy, never drop
		}
		key = []byte(k)
	}
	for _, f := range s.fields {
		if bytes.EqualFold(key, []byte(f.name)) {
			return f.shape
		}
	}
	return nil
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// ws returns the index of the first byte at or after i that is not JSON
// whitespace.
func (r *reducer) ws(i int) int {
	for i < len(r.in) {
		switch r.in[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skip returns the index after the JSON value at in[i:].
func (r *reducer) skip(i int) int {
	in := r.in
	switch in[i] {
	case '"':
		return r.skipString(i)
	case '{', '[':
		depth := 0
		for {
			switch in[i] {
			case '"':
				i = r.skipString(i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	// A number or a literal: up to the next delimiter.
	for i < len(in) {
		switch in[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// skipString returns the index after the string starting at in[i].
func (r *reducer) skipString(i int) int {
	in := r.in
	i++
	for {
		j := bytes.IndexByte(in[i:], '"')
		i += j
		// The quote is escaped when an odd number of backslashes
		// precedes it.
		n := 0
		for k := i - 1; in[k] == '\\'; k-- {
			n++
		}
		i++
		if n%2 == 0 {
			return i
		}
	}
}
