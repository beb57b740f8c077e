package clientvars

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/lablink-go/lablink/internal/atomicfile"
)

// Tokens are the secrets the allocator shares with its client VMs: the
// register token authenticates a VM's registration, the agent token the
// allocator's calls to the VM's agent. They reach each VM in its
// user_data, so a token that changes changes every VM's user_data.
type Tokens struct {
	Agent    string `json:"agent_token"`
	Register string `json:"register_token"`
}

// tokenFormat is what a token may hold: URL-safe base64, as upstream's
// secrets.token_urlsafe produces, and long enough to be a secret.
var tokenFormat = regexp.MustCompile(`^[A-Za-z0-9_-]{16,512}$`)

// checkToken names the variable a bad token came from, never its value.
func checkToken(name, tok string) error {
	if tok != "" && !tokenFormat.MatchString(tok) {
		return fmt.Errorf("%s: want 16 to 512 URL-safe characters (A-Z a-z 0-9 _ -); %d characters given", name, len(tok))
	}
	return nil
}

// tokensFile is where a working directory keeps its tokens.
func tokensFile(dir string) string { return filepath.Join(dir, ".lablink", "tokens.json") }

// WorkdirTokens returns the tokens kept in the working directory dir,
// generating them (32 random bytes each, as upstream) on first use and
// keeping them in dir/.lablink/tokens.json, mode 0600, so that they
// survive restarts: upstream generates new tokens in every process, which
// changes every VM's user_data at each restart. Concurrent first calls,
// in one process or several, agree on one pair.
func WorkdirTokens(dir string) (Tokens, error) {
	path := tokensFile(dir)
	if t, err := readTokens(path); !errors.Is(err, fs.ErrNotExist) {
		return t, err
	}
	t, err := NewTokens()
	if err != nil {
		return Tokens{}, err
	}
	data, err := json.Marshal(t)
	if err != nil {
		return Tokens{}, fmt.Errorf("tokens: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Tokens{}, fmt.Errorf("tokens: %w", err)
	}
	tmp, err := atomicfile.Temp(filepath.Dir(path), filepath.Base(path), data)
	if err != nil {
		return Tokens{}, fmt.Errorf("tokens: %w", err)
	}
	defer func() { _ = os.Remove(tmp) }()
	// A hard link never replaces an existing file: whoever links first
	// wins, and everyone reads the winner's tokens.
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return Tokens{}, fmt.Errorf("tokens: %w", err)
	}
	// The link survives a crash once its directory is synced; a loser
	// syncs too, since it hands out the winner's tokens from here on.
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		return Tokens{}, fmt.Errorf("tokens: %w", err)
	}
	return readTokens(path)
}

// NewTokens makes a fresh pair, 32 random bytes each in URL-safe base64,
// as upstream's secrets.token_urlsafe(32). A VM registers only with the
// allocator that knows its register token: keep them (WorkdirTokens does).
func NewTokens() (Tokens, error) {
	var t Tokens
	for _, p := range []*string{&t.Agent, &t.Register} {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return Tokens{}, fmt.Errorf("tokens: %w", err)
		}
		*p = base64.RawURLEncoding.EncodeToString(b)
	}
	return t, nil
}

func readTokens(path string) (Tokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Tokens{}, err
	}
	var t Tokens
	if err := json.Unmarshal(data, &t); err != nil {
		return Tokens{}, fmt.Errorf("tokens: %s: %w", path, err)
	}
	if err := errors.Join(checkToken(path+": agent_token", t.Agent), checkToken(path+": register_token", t.Register)); err != nil {
		return Tokens{}, err
	}
	if t.Agent == "" || t.Register == "" {
		return Tokens{}, fmt.Errorf("tokens: %s: a token is missing", path)
	}
	return t, nil
}
