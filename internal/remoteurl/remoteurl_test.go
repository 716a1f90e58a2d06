package remoteurl

import "testing"

func TestCheck(t *testing.T) {
	for raw, want := range map[string]Problem{
		"https://mcp.example.com/mcp":  OK,
		"http://127.0.0.1:3001/mcp":    OK,
		"http://[::1]:3001/mcp":        OK,
		"http://LocalHost/mcp":         OK,
		"http://127.9.9.9/mcp":         OK,
		"http://mcp.example.com/mcp":   PlainHTTP,
		"http://127.0.0.1.example/mcp": PlainHTTP,
		"https://u:p@mcp.example.com/": Credentials,
		"ftp://mcp.example.com/":       NotHTTP,
		"https:///no-host":             NotHTTP,
		"unix:///run/mcp.sock":         NotHTTP,
		"%":                            NotHTTP,
	} {
		if _, got := Check(raw); got != want {
			t.Errorf("Check(%q) = %d, want %d", raw, got, want)
		}
	}
}

func TestHeaderName(t *testing.T) {
	for s, want := range map[string]bool{"Authorization": true, "X-Team_1": true, "": false, "Bad Name": false, "a:b": false, "é": false} {
		if got := HeaderName(s); got != want {
			t.Errorf("HeaderName(%q) = %v, want %v", s, got, want)
		}
	}
}
