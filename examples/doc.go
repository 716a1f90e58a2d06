// Package examples holds aim-mcp's runnable demo: a small MCP server
// (notes-server), a stand-in for Claude Desktop (client), a sample
// claude_desktop_config.json and demo.sh, which walks through install, an
// allowed, a denied and an approved call, the audit trail and uninstall.
// Run it with "bash examples/demo.sh"; demo_test.go runs it under go test.
package examples
