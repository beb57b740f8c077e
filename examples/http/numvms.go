package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Upstream's messages for a bad num_vms, kept word for word because the
// allocator's admin page shows them as they are.
const (
	msgRequired    = "Number of VMs is required."
	msgNotInteger  = "Invalid number of VMs. Please enter a valid integer."
	msgNotPositive = "Number of VMs must be greater than 0."
)

// numVMs reads num_vms from a form, multipart or JSON body. A non-zero
// status means the request is refused with msg.
func (s *server) numVMs(w http.ResponseWriter, r *http.Request) (n, status int, msg string) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	ct := r.Header.Get("Content-Type")
	mt := ""
	if ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return 0, http.StatusUnsupportedMediaType, "unsupported content type " + strconv.Quote(ct)
		}
	}
	var raw string
	var present bool
	switch mt {
	case "application/json":
		var body struct {
			NumVMs json.RawMessage `json:"num_vms"`
		}
		if status, msg := s.readJSON(w, r, &body); status != 0 {
			return 0, status, msg
		}
		var ok bool
		raw, present, ok = jsonNumVMs(body.NumVMs)
		if !ok {
			return 0, http.StatusBadRequest, msgNotInteger
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(s.opts.MaxBodyBytes); err != nil {
			if tooLarge(err) {
				return 0, http.StatusRequestEntityTooLarge, tooLargeMsg(s.opts.MaxBodyBytes)
			}
			return 0, http.StatusBadRequest, "invalid multipart body"
		}
		defer r.MultipartForm.RemoveAll()
		raw, present = formValue(r)
	case "application/x-www-form-urlencoded", "":
		// An empty body without a content type reads as a form without
		// num_vms, which is what upstream answers for it.
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			if tooLarge(err) {
				return 0, http.StatusRequestEntityTooLarge, tooLargeMsg(s.opts.MaxBodyBytes)
			}
			return 0, http.StatusBadRequest, "invalid form body"
		}
		raw, present = formValue(r)
	default:
		return 0, http.StatusUnsupportedMediaType, "unsupported content type " + strconv.Quote(mt) +
			"; send num_vms as a form field or as JSON"
	}
	return parseNumVMs(raw, present)
}

func formValue(r *http.Request) (string, bool) {
	v, ok := r.PostForm["num_vms"]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// jsonNumVMs turns the JSON value of num_vms into the text upstream's
// int() would see: numbers as written, strings unquoted. ok is false for
// other JSON types.
func jsonNumVMs(m json.RawMessage) (raw string, present, ok bool) {
	t := strings.TrimSpace(string(m))
	switch {
	case t == "" || t == "null":
		return "", false, true
	case strings.HasPrefix(t, `"`):
		var s string
		if err := json.Unmarshal(m, &s); err != nil {
			return "", true, false
		}
		return s, true, true
	case t[0] == '-' || (t[0] >= '0' && t[0] <= '9'):
		return t, true, true
	}
	return "", true, false
}

// parseNumVMs applies upstream's rules in upstream's order: missing or
// empty, then not an integer, then not positive. Too many is the
// launcher's call (ErrInvalidCount).
func parseNumVMs(raw string, present bool) (n, status int, msg string) {
	raw = strings.TrimSpace(raw)
	if !present || raw == "" {
		return 0, http.StatusBadRequest, msgRequired
	}
	n, err := strconv.Atoi(raw)
	switch {
	case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(raw, "-"):
		// An integer, only a huge one: let the launcher refuse it as too
		// many, as it would any count above its maximum.
		return math.MaxInt, 0, ""
	case errors.Is(err, strconv.ErrRange):
		return 0, http.StatusBadRequest, msgNotPositive
	case err != nil:
		return 0, http.StatusBadRequest, msgNotInteger
	case n <= 0:
		return 0, http.StatusBadRequest, msgNotPositive
	}
	return n, 0, ""
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func tooLargeMsg(limit int64) string {
	return fmt.Sprintf("request body larger than %d bytes", limit)
}
