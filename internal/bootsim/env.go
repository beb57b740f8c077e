package bootsim

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// Env reads the env file at EnvPath as docker run --env-file does; see
// ParseEnv.
func (b *Boot) Env() (map[string]string, error) {
	data, err := os.ReadFile(b.EnvPath())
	if err != nil {
		return nil, fmt.Errorf("bootsim: %w", err)
	}
	return ParseEnv(data)
}

// ParseEnv parses a docker env file: one KEY=VALUE per line, the value
// taken literally up to the end of the line (no quote removal, no $
// expansion, no trimming). It is stricter than docker, so that every file
// it accepts docker reads as the same map: a line without "=", a
// duplicate key, an empty line or a comment line, a key with whitespace,
// a CR (docker drops one before LF), and bytes that are not UTF-8 are all
// errors. Each error names its line.
func ParseEnv(data []byte) (map[string]string, error) {
	env := map[string]string{}
	if len(data) == 0 {
		return env, nil
	}
	if !utf8.Valid(data) {
		return nil, errors.New("bootsim: env file is not valid UTF-8")
	}
	text := strings.TrimSuffix(string(data), "\n")
	var errs []error
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		key, value, ok := strings.Cut(line, "=")
		switch {
		case strings.ContainsRune(line, '\r'):
			errs = append(errs, fmt.Errorf("line %d: carriage return", n))
		case line == "" || strings.HasPrefix(strings.TrimLeft(line, " \t"), "#"):
			errs = append(errs, fmt.Errorf("line %d: empty or comment line %q", n, line))
		case !ok:
			// docker would pass the variable of that name from its own
			// environment.
			errs = append(errs, fmt.Errorf("line %d: no '=' in %q", n, line))
		case key == "" || strings.ContainsAny(key, " \t\v\f"):
			errs = append(errs, fmt.Errorf("line %d: bad key %q", n, key))
		default:
			if _, dup := env[key]; dup {
				errs = append(errs, fmt.Errorf("line %d: duplicate key %s", n, key))
				continue
			}
			env[key] = value
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("bootsim: env file: %w", errors.Join(errs...))
	}
	return env, nil
}
