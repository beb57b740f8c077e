package ec2fake

import (
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The actions the server answers.
const (
	actionInstanceTypes = "DescribeInstanceTypes"
	actionInstances     = "DescribeInstances"
)

// serveHTTP answers one request as EC2 would: a malformed, unsigned or
// unknown request with its error; any other is counted, then held while
// Block says so, then failed as FailNext queued or answered.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	action, region, ok := s.checkRequest(w, r)
	if !ok {
		return
	}
	if block := s.arrive(action, region); block != nil && !s.hold(w, r, block) {
		return
	}
	if fail, ok := s.nextFailure(); ok {
		s.writeError(w, fail.status, fail.code, messageFor(fail.code))
		return
	}
	if action == actionInstances {
		s.describeInstances(w, r)
		return
	}
	s.describeInstanceTypes(w, r)
}

// checkRequest answers a request that is not a signed request of one of
// the actions the server knows, of apiVersion, with EC2's error, or
// returns its action and signing region.
func (s *Server) checkRequest(w http.ResponseWriter, r *http.Request) (action, region string, ok bool) {
	if err := r.ParseForm(); err != nil {
		s.writeError(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return "", "", false
	}
	region, ok = signingRegion(r.Header.Get("Authorization"))
	if !ok {
		s.writeError(w, http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
		return "", "", false
	}
	action = r.Form.Get("Action")
	if action != actionInstanceTypes && action != actionInstances {
		s.writeError(w, http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("The action %s is not valid for this web service.", action))
		return "", "", false
	}
	if v := r.Form.Get("Version"); v != apiVersion {
		s.writeError(w, http.StatusBadRequest, "InvalidParameterValue",
			fmt.Sprintf("Unsupported API version %q", v))
		return "", "", false
	}
	return action, region, true
}

// arrive counts a request, releases the Arrived channels it satisfies,
// and returns the Block channel in force, if any.
func (s *Server) arrive(action, region string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call{action: action, region: region})
	s.waiters = slices.DeleteFunc(s.waiters, func(cw countWaiter) bool {
		if len(s.calls) >= cw.n {
			close(cw.ch)
			return true
		}
		return false
	})
	return s.block
}

// hold waits until block is closed and reports true, or reports false
// when the client gave up or the server closed (answering that).
func (s *Server) hold(w http.ResponseWriter, r *http.Request, block <-chan struct{}) bool {
	select {
	case <-block:
		return true
	case <-r.Context().Done():
		return false // the client is gone; nobody reads an answer
	case <-s.closed:
		s.writeError(w, http.StatusServiceUnavailable, "Unavailable", "fake server closed")
		return false
	}
}

// nextFailure takes the first failure FailNext queued.
func (s *Server) nextFailure() (failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.fails) == 0 {
		return failure{}, false
	}
	f := s.fails[0]
	s.fails = s.fails[1:]
	return f, true
}

func (s *Server) describeInstanceTypes(w http.ResponseWriter, r *http.Request) {
	names := indexedValues(r, "InstanceType")

	s.mu.Lock()
	var items []instanceTypeItem
	var unknown []string
	if len(names) == 0 {
		// Without a list EC2 describes every type; the fake has no pagination.
		for _, name := range slices.Sorted(maps.Keys(s.types)) {
			items = append(items, newItem(name, s.types[name]))
		}
	}
	for _, name := range names {
		gpus, known := s.types[name]
		switch {
		case known:
			items = append(items, newItem(name, gpus))
		case s.unlisted[name]:
		default:
			unknown = append(unknown, name)
		}
	}
	s.mu.Unlock()

	if len(unknown) > 0 {
		// EC2 fails the whole request when any requested type is unknown.
		s.writeError(w, http.StatusBadRequest, "InvalidInstanceType",
			fmt.Sprintf("The following supplied instance types do not exist: [%s]", strings.Join(unknown, ", ")))
		return
	}

	resp := describeInstanceTypesResponse{
		XMLNS:         "http://ec2.amazonaws.com/doc/" + apiVersion + "/",
		RequestID:     s.requestID(),
		InstanceTypes: instanceTypeSet{Items: items},
	}
	w.Header().Set("x-amzn-RequestId", resp.RequestID)
	writeXML(w, http.StatusOK, resp)
}

// indexedValues returns the values of prefix.1, prefix.2, ... up to the first
// missing index, the way the Query protocol flattens a list.
func indexedValues(r *http.Request, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		key := prefix + "." + strconv.Itoa(i)
		if _, ok := r.Form[key]; !ok {
			return out
		}
		out = append(out, r.Form.Get(key))
	}
}

// signingRegion extracts the region from a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/ec2/aws4_request, ...".
func signingRegion(auth string) (string, bool) {
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", false
	}
	_, cred, ok := strings.Cut(rest, "Credential=")
	if !ok {
		return "", false
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[3] != "ec2" {
		return "", false
	}
	return parts[2], true
}

func messageFor(code string) string {
	switch code {
	case "InternalError":
		return "An internal error has occurred."
	case "RequestLimitExceeded":
		return "Request limit exceeded."
	case "Unavailable":
		return "The server is overloaded and cannot handle the request."
	}
	return "fake failure " + code
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", s.nextID)
}

func (s *Server) writeError(w http.ResponseWriter, status int, code, message string) {
	resp := errorResponse{RequestID: s.requestID()}
	resp.Errors = []apiError{{Code: code, Message: message}}
	writeXML(w, status, resp)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

func newItem(name string, gpus []GPU) instanceTypeItem {
	item := instanceTypeItem{InstanceType: name}
	if len(gpus) == 0 {
		return item
	}
	info := &gpuInfo{}
	for _, g := range gpus {
		info.GPUs = append(info.GPUs, gpuDevice{
			Name:         g.Name,
			Manufacturer: g.Manufacturer,
			Count:        g.Count,
			MemoryInfo:   gpuMemory{SizeInMiB: g.MemoryMiB},
		})
		info.TotalMemoryMiB += g.Count * g.MemoryMiB
	}
	item.GPUInfo = info
	return item
}
