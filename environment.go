package lablink

import "strings"

// NormalizeEnvironment applies the upstream rule to an environment name:
// surrounding whitespace is trimmed, the name is lowercased, and each run
// of inner whitespace becomes one "-". An empty or all-whitespace name is
// "prod", the upstream default. The result names the client VMs' resources
// and the state key; it is not checked here (see ValidateEnvironment).
func NormalizeEnvironment(env string) string {
	fields := strings.Fields(env)
	if len(fields) == 0 {
		return "prod"
	}
	return strings.ToLower(strings.Join(fields, "-"))
}

// EnvironmentName returns the environment the allocator runs as, normalized:
// fromEnv (the process's ENVIRONMENT variable) when it is set and not
// blank, otherwise the config's environment key, otherwise "prod".
// Upstream reads only ENVIRONMENT; a config that names its environment is
// honoured when the variable is absent.
func (c Config) EnvironmentName(fromEnv string) string {
	if strings.TrimSpace(fromEnv) != "" {
		return NormalizeEnvironment(fromEnv)
	}
	return NormalizeEnvironment(c.Environment)
}

// ResourcePrefix is the prefix of every client VM resource name,
// "{machine.software}-lablink-client-{environment}", with env as returned
// by EnvironmentName. VM names are "{prefix}-vm-{i}".
func (c Config) ResourcePrefix(env string) string {
	return c.Machine.Software + "-lablink-client-" + env
}
