package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// The commit and date come from the VCS stamp when the build has one, and
// are "devel" when it has none.
func TestBuildInfoFrom(t *testing.T) {
	stamped := buildInfoFrom(&debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-01T09:30:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}})
	if stamped.Commit != "0123456789abcdef0123456789abcdef01234567" || stamped.Date != "2026-12-01T09:30:00Z" || !stamped.Modified {
		t.Errorf("stamped build: %+v", stamped)
	}
	for _, bi := range []*debug.BuildInfo{nil, {}} {
		bare := buildInfoFrom(bi)
		if bare.Commit != "devel" || bare.Date != "devel" || bare.Modified {
			t.Errorf("unstamped build: %+v", bare)
		}
		if bare.GoVersion != runtime.Version() || bare.OS != runtime.GOOS || bare.Arch != runtime.GOARCH {
			t.Errorf("toolchain and platform: %+v", bare)
		}
	}
}
