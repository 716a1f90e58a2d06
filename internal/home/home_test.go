package home

import "testing"

func TestIsUNC(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{`\\fileserver\users\ann\aim-mcp`, true},
		{`//fileserver/users/ann`, true},
		{`\\?\UNC\fileserver\users\ann`, true},
		{`\\?\C:\Users\ann\aim-mcp`, false},
		{`\\.\pipe\x`, false},
		{`C:\Users\ann\AppData\Local\aim-mcp`, false},
		{`/home/ann/.local/share/aim-mcp`, false},
	}
	for _, tt := range tests {
		if got := isUNC(tt.path); got != tt.want {
			t.Errorf("isUNC(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}
