package oshint

import "testing"

func TestHints(t *testing.T) {
	const (
		winPath  = `C:\Users\Ann Lee\AppData\Local\aim-mcp\keys\a.key`
		unixPath = "/home/ann/.local/share/aim-mcp/keys/a.key"
	)
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"quote windows", QuoteFor("windows", winPath), `"C:\Users\Ann Lee\AppData\Local\aim-mcp\keys\a.key"`},
		{"quote windows UNC", QuoteFor("windows", `\\server\share\aim`), `"\\server\share\aim"`},
		{"quote unix", QuoteFor("linux", unixPath), `"/home/ann/.local/share/aim-mcp/keys/a.key"`},
		{"quote unix with a quote", QuoteFor("darwin", `/tmp/a"b`), `"/tmp/a\"b"`},
		{"writable windows", WritableFor("windows", winPath), `attrib -r "C:\Users\Ann Lee\AppData\Local\aim-mcp\keys\a.key"`},
		{"writable unix", WritableFor("linux", unixPath), `chmod u+w "/home/ann/.local/share/aim-mcp/keys/a.key"`},
		{"writable dir windows", WritableDirFor("windows", `C:\Users\Ann Lee\AppData\Roaming\Claude`),
			`icacls "C:\Users\Ann Lee\AppData\Roaming\Claude" /grant "%USERNAME%:(OI)(CI)M"`},
		{"writable dir unix", WritableDirFor("linux", "/etc/claude"), `chmod u+w "/etc/claude"`},
		{"private windows", PrivateFor("windows", winPath, `HOST\ann`),
			`icacls "C:\Users\Ann Lee\AppData\Local\aim-mcp\keys\a.key" /inheritance:r /grant:r "HOST\ann:F"`},
		{"private windows, user unknown", PrivateFor("windows", `C:\aim\k`, ""),
			`icacls "C:\aim\k" /inheritance:r /grant:r "%USERNAME%:F"`},
		{"private unix", PrivateFor("darwin", unixPath, "ignored"), `chmod 600 "/home/ann/.local/share/aim-mcp/keys/a.key"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got  %s\nwant %s", tt.got, tt.want)
			}
		})
	}
}
