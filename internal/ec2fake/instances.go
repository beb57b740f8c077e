package ec2fake

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Instance is an EC2 instance the server holds, for DescribeInstances.
type Instance struct {
	// ID is the instance id. Default: the next of i-00000000000000001,
	// i-00000000000000002, ...
	ID string
	// ImageID is the AMI. Default "ami-00c257e12d6828491".
	ImageID string
	// InstanceType defaults to "t3.medium".
	InstanceType string
	// State is the instance state name: pending, running, shutting-down,
	// terminated, stopping or stopped. Default "running".
	State string
	// LaunchTime defaults to 2026-01-01T00:00:00Z. EC2 answers it to the
	// millisecond.
	LaunchTime time.Time
	// PrivateIP is the private IPv4 address; "" for none.
	PrivateIP string
	// Tags are the instance's tags, answered sorted by key.
	Tags map[string]string
}

// stateCodes are EC2's instance state codes (the low byte of its code).
var stateCodes = map[string]int{
	"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80,
}

// AddInstance adds in, with defaults filled in, and returns its ID. An
// instance of the same ID is replaced. An unknown State is answered with
// code -1.
func (s *Server) AddInstance(in Instance) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.ID == "" {
		s.nextInst++
		in.ID = fmt.Sprintf("i-%017x", s.nextInst)
	}
	if in.ImageID == "" {
		in.ImageID = "ami-00c257e12d6828491"
	}
	if in.InstanceType == "" {
		in.InstanceType = "t3.medium"
	}
	if in.State == "" {
		in.State = "running"
	}
	if in.LaunchTime.IsZero() {
		in.LaunchTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	in.Tags = maps.Clone(in.Tags)
	s.instances[in.ID] = in
	return in.ID
}

// RemoveInstance removes the instance id, as if it had been terminated
// long enough ago for EC2 to stop listing it, and reports whether there
// was one.
func (s *Server) RemoveInstance(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.instances[id]
	delete(s.instances, id)
	return ok
}

// SetInstanceState sets the state name of the instance id and reports
// whether there is one.
func (s *Server) SetInstanceState(id, state string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instances[id]
	if ok {
		in.State = state
		s.instances[id] = in
	}
	return ok
}

// describeQuery is a parsed DescribeInstances request.
type describeQuery struct {
	ids     []string
	filters []filter
	max     int // 0: no pagination
	after   string
}

type filter struct {
	name   string
	values []string
}

// describeInstances answers DescribeInstances: the instances that match
// the ids and every filter (a filter matches when any of its values
// does; values match exactly, EC2's * and ? wildcards are not supported),
// in instance id order, MaxResults of them at a time, each in a
// reservation of its own as Terraform's one-instance RunInstances calls
// leave them.
func (s *Server) describeInstances(w http.ResponseWriter, r *http.Request) {
	q, code, msg := parseDescribe(r)
	if code != "" {
		s.writeError(w, http.StatusBadRequest, code, msg)
		return
	}
	s.mu.Lock()
	var matched []Instance
	for _, id := range slices.Sorted(maps.Keys(s.instances)) {
		in := s.instances[id]
		if (len(q.ids) == 0 || slices.Contains(q.ids, id)) && matches(in, q.filters) {
			matched = append(matched, in)
		}
	}
	var missing []string
	for _, id := range q.ids {
		if _, ok := s.instances[id]; !ok {
			missing = append(missing, id)
		}
	}
	s.mu.Unlock()
	if len(missing) > 0 {
		s.writeError(w, http.StatusBadRequest, "InvalidInstanceID.NotFound",
			fmt.Sprintf("The instance IDs '%s' do not exist", strings.Join(missing, ", ")))
		return
	}

	// The page: what follows the token's instance, MaxResults of it.
	start := slices.IndexFunc(matched, func(in Instance) bool { return in.ID > q.after })
	if start < 0 {
		start = len(matched)
	}
	page := matched[start:]
	var next string
	if q.max > 0 && len(page) > q.max {
		page = page[:q.max]
		next = base64.StdEncoding.EncodeToString([]byte("after:" + page[len(page)-1].ID))
	}
	resp := describeInstancesResponse{
		XMLNS:     "http://ec2.amazonaws.com/doc/" + apiVersion + "/",
		RequestID: s.requestID(),
		NextToken: next,
	}
	for _, in := range page {
		resp.Reservations.Items = append(resp.Reservations.Items, reservation(in))
	}
	w.Header().Set("x-amzn-RequestId", resp.RequestID)
	writeXML(w, http.StatusOK, resp)
}

// parseDescribe reads a DescribeInstances request, or returns EC2's error
// code and message for it.
func parseDescribe(r *http.Request) (describeQuery, string, string) {
	q := describeQuery{ids: indexedValues(r, "InstanceId")}
	for i := 1; ; i++ {
		prefix := "Filter." + strconv.Itoa(i)
		name, ok := r.Form[prefix+".Name"]
		if !ok {
			break
		}
		f := filter{name: name[0], values: indexedValues(r, prefix+".Value")}
		if !knownFilter(f.name) {
			return q, "InvalidParameterValue", fmt.Sprintf("The filter '%s' is invalid", f.name)
		}
		q.filters = append(q.filters, f)
	}
	if v := r.Form.Get("MaxResults"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case len(q.ids) > 0:
			return q, "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults"
		case err != nil || n < 5 || n > 1000:
			return q, "InvalidParameterValue", fmt.Sprintf("Value ( %s ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", v)
		}
		q.max = n
	}
	if tok := r.Form.Get("NextToken"); tok != "" {
		raw, err := base64.StdEncoding.DecodeString(tok)
		after, ok := strings.CutPrefix(string(raw), "after:")
		if err != nil || !ok {
			return q, "InvalidPaginationToken", "The specified pagination token is not valid or is expired."
		}
		q.after = after
	}
	return q, "", ""
}

func knownFilter(name string) bool {
	switch name {
	case "instance-id", "instance-state-name", "instance-type", "tag-key", "image-id":
		return true
	}
	return strings.HasPrefix(name, "tag:") && len(name) > len("tag:")
}

// matches reports whether in passes every filter.
func matches(in Instance, filters []filter) bool {
	for _, f := range filters {
		var got []string
		switch {
		case f.name == "instance-id":
			got = []string{in.ID}
		case f.name == "instance-state-name":
			got = []string{in.State}
		case f.name == "instance-type":
			got = []string{in.InstanceType}
		case f.name == "image-id":
			got = []string{in.ImageID}
		case f.name == "tag-key":
			got = slices.Collect(maps.Keys(in.Tags))
		default:
			if v, ok := in.Tags[strings.TrimPrefix(f.name, "tag:")]; ok {
				got = []string{v}
			}
		}
		if !slices.ContainsFunc(got, func(v string) bool { return slices.Contains(f.values, v) }) {
			return false
		}
	}
	return true
}

func reservation(in Instance) reservationItem {
	code, ok := stateCodes[in.State]
	if !ok {
		code = -1
	}
	item := instanceItem{
		InstanceID:   in.ID,
		ImageID:      in.ImageID,
		State:        instanceState{Code: code, Name: in.State},
		PrivateIP:    in.PrivateIP,
		InstanceType: in.InstanceType,
		LaunchTime:   in.LaunchTime.UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	if len(in.Tags) > 0 {
		item.Tags = &tagSet{}
		for _, k := range slices.Sorted(maps.Keys(in.Tags)) {
			item.Tags.Items = append(item.Tags.Items, tagItem{Key: k, Value: in.Tags[k]})
		}
	}
	return reservationItem{
		ReservationID: "r-" + strings.TrimPrefix(in.ID, "i-"),
		OwnerID:       "123456789012",
		Instances:     instancesSet{Items: []instanceItem{item}},
	}
}
