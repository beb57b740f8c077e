package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"time"
)

// Action is what an attempt or an operation does: launch client VMs or
// destroy them. It is the one name of that concept across the module.
type Action string

// Actions, as recorded in Manifest.Action and Op.Action.
const (
	Launch  Action = "launch"
	Destroy Action = "destroy"
)

// OpType returns upstream's word for a in an operation record's "op_type":
// "apply" for Launch, "destroy" for Destroy, and a itself otherwise.
func (a Action) OpType() string {
	if a == Launch {
		return "apply"
	}
	return string(a)
}

func (a Action) valid() bool { return a == Launch || a == Destroy }

// Outcome is how an attempt ended.
type Outcome string

// Outcomes recorded in Manifest.Outcome. Begin records OutcomeStarted; the
// caller of Finish sets one of the others.
const (
	OutcomeStarted   Outcome = "started"
	OutcomeSucceeded Outcome = "succeeded"
	OutcomeFailed    Outcome = "failed"
	OutcomeRefused   Outcome = "refused" // e.g. a plan that would destroy client VMs
	OutcomeCanceled  Outcome = "canceled"
	// OutcomeSuperseded: the attempt's tfvars were not applied; a newer
	// attempt of the same request re-rendered them (the plan found a
	// different number of client VMs than expected).
	OutcomeSuperseded Outcome = "superseded"
	// OutcomeInterrupted: the process making the attempt died before it
	// ended; a later process recorded the end (launcher.Open does).
	OutcomeInterrupted Outcome = "interrupted"
)

// Object names inside a launch's history prefix.
const (
	TFVarsName   = "terraform.runtime.tfvars"
	AttemptName  = "attempt.json"
	ManifestName = "manifest.json"
)

// Manifest describes one launch or destroy attempt.
type Manifest struct {
	LaunchID    string `json:"launch_id"`
	Environment string `json:"environment"`
	// Action is what the attempt does. Its JSON name is "operation", the
	// name stored manifests have always had.
	Action   Action    `json:"operation"`
	Actor    string    `json:"actor,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Duration string    `json:"duration,omitempty"` // time.Duration.String of Finished-Started
	// Requested is the number of VMs asked for, Existing the number already
	// running, Total the instance_count applied.
	Requested int `json:"requested"`
	Existing  int `json:"existing"`
	Total     int `json:"total"`
	// ConfigDigest is a digest of the allocator configuration used, as the
	// caller computes it; the Trail stores it without checking. The
	// launcher writes Digest of the lablink.Config struct as JSON with its
	// passwords blanked, not of the configuration file's bytes.
	ConfigDigest string `json:"config_digest"`
	// TFVarsSHA256 is the lowercase hex SHA-256 of the unredacted tfvars
	// file that was applied; the stored copy may be redacted.
	TFVarsSHA256 string           `json:"tfvars_sha256"`
	Variables    []VariableSource `json:"variables"`
	GPU          *GPUAnswer       `json:"gpu,omitempty"`
	Plan         *PlanSummary     `json:"plan,omitempty"`
	Outcome      Outcome          `json:"outcome"`
	Error        string           `json:"error,omitempty"`
}

// VariableSource says where one tfvars variable came from.
type VariableSource struct {
	Name      string `json:"name"`
	Source    string `json:"source"` // e.g. "machine.machine_type" or "env ALLOCATOR_PUBLIC_IP"
	Sensitive bool   `json:"sensitive"`
	Redacted  bool   `json:"redacted"` // the stored tfvars copy does not hold the value
}

// GPUAnswer records the GPU-support answer used for gpu_support.
type GPUAnswer struct {
	InstanceType string `json:"instance_type"`
	NVIDIA       bool   `json:"nvidia"`
	Source       string `json:"source"` // e.g. "ec2", "cache", "offline catalog"
}

// PlanSummary counts the resource actions of the applied plan.
type PlanSummary struct {
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
	Replace int `json:"replace"`
}

// Trail records launch attempts in a Store. It is safe for concurrent use.
// It keeps one thing in memory: the environments whose history index it has
// found complete (see List), so that it checks each once.
type Trail struct {
	store Store
	now   func() time.Time
	newID func() string

	layout layoutCheck
}

// NewTrail returns a Trail writing to store. opts may be nil.
func NewTrail(store Store, opts *Options) *Trail {
	t := &Trail{store: BoundedWrites(store, opts), now: time.Now}
	if opts != nil && opts.Now != nil {
		t.now = opts.Now
	}
	if opts != nil && opts.NewID != nil {
		t.newID = opts.NewID
	} else {
		t.newID = t.defaultID
	}
	return t
}

func (t *Trail) defaultID() string {
	return t.now().UTC().Format("20060102T150405Z") + fmt.Sprintf("-%08x", rand.Uint32())
}

// LatestKey returns the key of the upstream-compatible latest tfvars copy,
// "{env}/client/terraform.runtime.tfvars".
func LatestKey(env string) string { return env + "/client/" + TFVarsName }

// HistoryPrefix returns the key prefix of one attempt's history objects,
// "{env}/client/history/{launchID}/".
func HistoryPrefix(env, launchID string) string { return historyRoot(env) + launchID + "/" }

func historyRoot(env string) string { return env + "/client/history/" }

var segmentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func checkSegment(what, s string) error {
	if !segmentRE.MatchString(s) {
		return fmt.Errorf("%w: %s %q: want 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalid, what, s)
	}
	return nil
}

// Begin records the start of an attempt: it writes the tfvars (stored
// verbatim: redact before calling) and attempt.json, a copy of m with
// Outcome "started", under HistoryPrefix, and then the attempt's entry in
// the history index. It fills m.LaunchID (from Options.NewID) and
// m.Started (from Options.Now) when they are zero and returns the
// completed manifest, to be passed to Finish. The objects are create-only:
// a launch ID that was used before yields an error matching ErrExists and
// writes nothing, unless the objects already hold exactly these bytes (the
// same Begin retried), which succeeds. If a write fails, the objects
// before it may remain, but the attempt is not listed.
func (t *Trail) Begin(ctx context.Context, m Manifest, tfvars []byte) (Manifest, error) {
	if m.LaunchID == "" {
		m.LaunchID = t.newID()
	}
	if m.Started.IsZero() {
		m.Started = t.now().UTC()
	}
	m.Outcome = OutcomeStarted
	m.Finished, m.Duration, m.Error = time.Time{}, "", ""
	if err := checkManifest(m); err != nil {
		return m, fmt.Errorf("audit: begin: %w", err)
	}
	body, err := encode(m)
	if err != nil {
		return m, fmt.Errorf("audit: begin: %w", err)
	}
	prefix := HistoryPrefix(m.Environment, m.LaunchID)
	// tfvars first: attempt.json is what makes the attempt visible, so it
	// is written only when the file it describes is in place.
	if err := t.store.Create(ctx, prefix+TFVarsName, tfvars, ContentTypeTFVars); err != nil {
		return m, err
	}
	if err := t.store.Create(ctx, prefix+AttemptName, body, ContentTypeJSON); err != nil {
		return m, err
	}
	// Last: an index entry always finds its attempt.json.
	leaf := historyLeaf(m.Started, m.LaunchID)
	if err := t.store.Create(ctx, historyIndexKey(m.Environment, leaf), []byte(m.LaunchID+"\n"), contentTypeText); err != nil {
		return m, err
	}
	return m, nil
}

// Finish records the end of an attempt begun with Begin: it writes
// manifest.json (create-only, so an attempt finishes once) with m.Finished
// set from Options.Now and m.Duration computed when they are empty. Then,
// when m.Outcome is "succeeded" and m.Action is Launch and
// latestTFVars is not nil, it overwrites the latest copy (LatestKey) with
// latestTFVars, as upstream does after a successful apply. It returns the
// Location of manifest.json, also when only the latest copy failed.
//
// Finish should be called with a context that outlives a canceled launch
// (context.WithoutCancel) so that canceled attempts are recorded too.
func (t *Trail) Finish(ctx context.Context, m Manifest, latestTFVars []byte) (location string, err error) {
	if m.Finished.IsZero() {
		m.Finished = t.now().UTC()
	}
	if m.Duration == "" && !m.Started.IsZero() {
		m.Duration = m.Finished.Sub(m.Started).String()
	}
	if err := checkManifest(m); err != nil {
		return "", fmt.Errorf("audit: finish: %w", err)
	}
	if m.Outcome == OutcomeStarted {
		return "", fmt.Errorf("audit: finish: %w: outcome %q is for Begin", ErrInvalid, m.Outcome)
	}
	body, err := encode(m)
	if err != nil {
		return "", fmt.Errorf("audit: finish: %w", err)
	}
	key := HistoryPrefix(m.Environment, m.LaunchID) + ManifestName
	if err := t.store.Create(ctx, key, body, ContentTypeJSON); err != nil {
		return "", err
	}
	location = t.store.Location(key)
	if m.Outcome == OutcomeSucceeded && m.Action == Launch && latestTFVars != nil {
		if err := t.store.Put(ctx, LatestKey(m.Environment), latestTFVars, ContentTypeTFVars); err != nil {
			return location, err
		}
	}
	return location, nil
}

// Show returns the manifest of one attempt (attempt.json while it has not
// finished) and the tfvars stored for it. A launch ID with no record is an
// error matching ErrNotFound.
func (t *Trail) Show(ctx context.Context, env, launchID string) (Manifest, []byte, error) {
	if err := checkSegment("environment", env); err != nil {
		return Manifest{}, nil, fmt.Errorf("audit: show: %w", err)
	}
	if err := checkSegment("launch ID", launchID); err != nil {
		return Manifest{}, nil, fmt.Errorf("audit: show: %w", err)
	}
	prefix := HistoryPrefix(env, launchID)
	m, err := t.read(ctx, prefix+ManifestName)
	if errors.Is(err, ErrNotFound) {
		m, err = t.read(ctx, prefix+AttemptName)
	}
	if err != nil {
		return Manifest{}, nil, err
	}
	tfvars, err := t.store.Get(ctx, prefix+TFVarsName)
	if err != nil {
		return Manifest{}, nil, err
	}
	return m, tfvars, nil
}

func (t *Trail) read(ctx context.Context, key string) (Manifest, error) {
	b, err := t.store.Get(ctx, key)
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("audit: decode %s: %w", t.store.Location(key), err)
	}
	return m, nil
}

func encode(m Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// checkManifest reports every unusable field of m at once.
func checkManifest(m Manifest) error {
	var errs []error
	if err := checkSegment("environment", m.Environment); err != nil {
		errs = append(errs, err)
	}
	if err := checkSegment("launch ID", m.LaunchID); err != nil {
		errs = append(errs, err)
	}
	if !m.Action.valid() {
		errs = append(errs, fmt.Errorf("%w: action (operation) %q: want %q or %q", ErrInvalid, m.Action, Launch, Destroy))
	}
	switch m.Outcome {
	case OutcomeStarted, OutcomeSucceeded, OutcomeFailed, OutcomeRefused, OutcomeCanceled, OutcomeSuperseded, OutcomeInterrupted:
	default:
		errs = append(errs, fmt.Errorf("%w: outcome %q", ErrInvalid, m.Outcome))
	}
	return errors.Join(errs...)
}
