// Package supervisor is the mode in which aim-mcp runs as the supervisor of
// a proxy's server on Linux: a child subreaper between the proxy and the
// server that takes down everything the server started, even when the
// proxy is killed with SIGKILL. The proxy starts this binary again with Env
// set; the package's init then supervises and exits, before the rest of
// the binary is initialised. Any binary that starts a supervised server
// (aim-mcp, and test binaries that stand in for it) links this package, as
// mcpproxy does.
package supervisor

// Env marks a process the proxy started as a supervisor: its arguments are
// the server's path and argv.
const Env = "AIM_MCP_SUPERVISOR"
