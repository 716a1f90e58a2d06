package mcpproxy

// setsid has no Windows counterpart: a job object holds the whole tree, so
// leaving a session is not a way out there.
func setsid() error { return nil }
