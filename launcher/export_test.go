package launcher

// SetWriteTFVars replaces the tfvars writer until the returned function is
// called. Not safe while a launch runs.
func SetWriteTFVars(f func(path string, data []byte) error) (restore func()) {
	old := writeTFVars
	writeTFVars = f
	return func() { writeTFVars = old }
}
