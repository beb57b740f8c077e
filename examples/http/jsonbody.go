package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
)

// readJSON reads the body of r, at most serverOptions.MaxBodyBytes, as
// one JSON value into v, strictly: a field v does not have, a key given
// twice in one object and anything but white space after the value are
// errors, as is a body that is not JSON at all. A non-zero status means
// the request is refused with msg (400, or 413 for a body too large).
func (s *server) readJSON(w http.ResponseWriter, r *http.Request, v any) (status int, msg string) {
	status, msg, _ = s.decodeBody(w, r, v, false)
	return status, msg
}

// decodeBody reads the body of r as readJSON says; with blankOK, a body
// of white space only is no error and leaves v as it is. err is the
// error of reading or decoding, for a caller that words some of them
// itself (it wraps a *json.UnmarshalTypeError). Every route that takes a
// JSON body reads it with decodeBody.
func (s *server) decodeBody(w http.ResponseWriter, r *http.Request, v any, blankOK bool) (status int, msg string, err error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		if tooLarge(err) {
			return http.StatusRequestEntityTooLarge, tooLargeMsg(s.opts.MaxBodyBytes), err
		}
		return http.StatusBadRequest, "reading the body failed", err
	}
	if blankOK && len(bytes.TrimSpace(data)) == 0 {
		return 0, "", nil
	}
	if err := decodeStrict(data, v); err != nil {
		return http.StatusBadRequest, "invalid JSON body: " + err.Error(), err
	}
	return 0, "", nil
}

// decodeStrict decodes data, one JSON value, into v as readJSON says.
func decodeStrict(data []byte, v any) error {
	if err := duplicateKeys(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

// jsonError words a decoding error for the client: what and where,
// never Go's type names. It wraps err, so that callers still find a
// *json.UnmarshalTypeError (schedules.go names the field with it).
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	msg := trimJSONPrefix(err.Error()) // "unknown field \"x\"" and the like
	switch {
	case errors.Is(err, io.EOF):
		msg = "empty body"
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = "unexpected end of the body"
	case errors.As(err, &syn):
		msg = fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		msg = fmt.Sprintf("field %q: %s", typ.Field, typeMismatch(typ))
	case errors.As(err, &typ):
		msg = typeMismatch(typ)
	}
	return &bodyError{msg, err}
}

// typeMismatch words a value of the wrong JSON type without naming its
// field: "want a number, got string".
func typeMismatch(typ *json.UnmarshalTypeError) string {
	return fmt.Sprintf("want %s, got %s", jsonValueName(typ.Type), typ.Value)
}

// bodyError is a JSON body's problem in the client's words.
type bodyError struct {
	msg string
	err error
}

func (e *bodyError) Error() string { return e.msg }
func (e *bodyError) Unwrap() error { return e.err }

// jsonValueName names the JSON value that decodes into t.
func jsonValueName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	default:
		return "a number"
	}
}

func trimJSONPrefix(s string) string {
	const p = "json: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// duplicateKeys reports the first object key of data given twice in the
// same object, at any depth. encoding/json keeps the last one silently,
// so that {"num_vms": 1, "num_vms": 500} would read as 500 while another
// reader of the same body sees 1. Syntax errors are left to the decoder.
func duplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	// One frame per open object or array: the keys seen, and for an
	// object whether a key comes next.
	type frame struct {
		keys    map[string]bool
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.keys != nil && top.wantKey {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return fmt.Errorf("duplicate key %s", strconv.Quote(k))
				}
				top.keys[k], top.wantKey = true, false
				continue
			}
		}
		if top != nil && top.keys != nil {
			top.wantKey = true // after this value, a key or the end
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
}

// isJSON reports whether r says its body is JSON.
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// emptyBody checks the body of a request that takes no parameters (POST
// /api/destroy): a JSON body must be an object without fields; any other
// body is ignored, but bounded.
func (s *server) emptyBody(w http.ResponseWriter, r *http.Request) (status int, msg string) {
	if !isJSON(r) {
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		return 0, ""
	}
	status, msg, _ = s.decodeBody(w, r, &struct{}{}, true)
	return status, msg
}
