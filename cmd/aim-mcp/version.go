package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at link time (-ldflags "-X main.Version=v1.2.3"); otherwise
// it comes from the module's build info.
var Version string

// buildInfo is what "aim-mcp version" says about the binary: which source
// it was built from, when, and with what.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	Modified  bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// readBuildInfo reads the build info the Go toolchain embeds. Commit and
// date come from the VCS stamp ("go build" in a git checkout); a build
// without one (go run, -buildvcs=false) says "devel" for them.
func readBuildInfo() buildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return buildInfoFrom(bi)
}

// buildInfoFrom reads bi, which is nil when the binary has none.
func buildInfoFrom(bi *debug.BuildInfo) buildInfo {
	info := buildInfo{Version: version(), Commit: "devel", Date: "devel",
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi == nil {
		return info
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.time":
			info.Date = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

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
Usage: aim-mcp version [--json]

Prints the version of aim-mcp, the commit and date of the source it was
built from ("devel" when the build recorded none), the Go version it was
built with, and the OS and architecture it runs on.

Flags:
  --json  print it as a JSON object (version, commit, date, go_version,
          os, arch; modified when built from uncommitted changes)
`

func runVersion(ctx context.Context, e env, args []string) error {
	fs := flags(e, "version", versionUsage)
	asJSON := fs.Bool("json", false, "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	info := readBuildInfo()
	if *asJSON {
		b, _ := json.MarshalIndent(info, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
		return nil
	}
	commit := info.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if info.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(e.stdout, "aim-mcp %s\ncommit:   %s\nbuilt:    %s\ngo:       %s\nplatform: %s/%s\n",
		info.Version, commit, info.Date, info.GoVersion, info.OS, info.Arch)
	return nil
}
