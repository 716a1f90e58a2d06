package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// Version is set at link time (-ldflags "-X main.Version=v1.2.3"); otherwise
// it comes from the module's build info.
var Version string

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

const versionUsage = `
Usage: aim-mcp version

Prints the version of aim-mcp.
`

func runVersion(ctx context.Context, e env, args []string) error {
	fs := flags(e, "version", versionUsage)
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "aim-mcp %s\n", version())
	return nil
}
