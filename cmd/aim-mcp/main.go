// The aim-mcp command gives every MCP server a desktop AI client launches an
// identity, a policy check and a signed, tamper-evident record of every tool
// call. Run "aim-mcp help" for the commands.
//
// This package owns every word the user reads on stdout and stderr and every
// exit code; the libraries below it return errors and never print. main hands
// the arguments to run, which finds the command in the table commands returns
// (one file per command), and report turns the error the command returns into
// "aim-mcp: error:" and "aim-mcp: hint:" lines and an exit code. Commands that
// read or answer the registry open it with openHome; those that edit client
// configs pick them with the --client and --config flags, through discovery.
// The flags of a command exist only in the flag set its run function builds;
// completion and the usage tests read them by running the command with
// env.describe set, which hands over the flag set instead of parsing it.
//
// A tool call's path is put together in proxy.go: "aim-mcp proxy" opens the
// registry, registers its server if need be, and hands mcpproxy a
// policy.Guard whose hooks decide a call in the order they are added there:
// the local rules, then the tool pins, then a remote AIM when one is set.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, width: terminalWidth(os.Stdout)})
	stop()
	os.Exit(code)
}
