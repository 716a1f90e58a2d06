package watch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

func TestServiceRender(t *testing.T) {
	args := []string{"watch", "--home", "/home/al ice/.local/share/aim-mcp", "--config", `/tmp/100%"$x".json`}
	tests := []struct {
		name string
		s    Service
		path string
		want string
	}{{
		name: "linux",
		s: Service{GOOS: "linux", Exe: "/usr/local/bin/aim-mcp", Args: args, ConfigHome: "/home/al ice/.config",
			Env: map[string]string{"XDG_CONFIG_HOME": "/home/al ice/.config", "A": "50%$"}},
		path: "/home/al ice/.config/systemd/user/aim-mcp-watch.service",
		want: `# Written by "aim-mcp watch --service install"; "aim-mcp watch --service uninstall" removes it.
[Unit]
Description=aim-mcp watch: keep MCP client configs wrapped
Documentation=https://github.com/opena2a-org/aim-mcp

[Service]
Type=simple
ExecStart=/usr/local/bin/aim-mcp watch --home "/home/al ice/.local/share/aim-mcp" --config "/tmp/100%%\"$$x\".json"
Environment=A=50%%$
Environment="XDG_CONFIG_HOME=/home/al ice/.config"
Restart=on-failure
RestartSec=5s

[Install]
WantedBy=default.target
`,
	}, {
		name: "darwin",
		s:    Service{GOOS: "darwin", Exe: "/opt/homebrew/bin/aim-mcp", Args: args[:3], Home: "/Users/alice", Dir: "/Users/alice/.aim-mcp"},
		path: "/Users/alice/Library/LaunchAgents/org.opena2a.aim-mcp.watch.plist",
		want: `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by "aim-mcp watch --service install"; "aim-mcp watch --service uninstall" removes it. -->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>org.opena2a.aim-mcp.watch</string>
	<key>ProgramArguments</key>
	<array>
		<string>/opt/homebrew/bin/aim-mcp</string>
		<string>watch</string>
		<string>--home</string>
		<string>/home/al ice/.local/share/aim-mcp</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>10</integer>
	<key>ProcessType</key>
	<string>Background</string>
	<key>StandardOutPath</key>
	<string>/Users/alice/.aim-mcp/watch.log</string>
	<key>StandardErrorPath</key>
	<string>/Users/alice/.aim-mcp/watch.log</string>
</dict>
</plist>
`,
	}, {
		name: "windows",
		s: Service{GOOS: "windows", Exe: `C:\Program Files\aim-mcp\aim-mcp.exe`, User: `PC\alice`, Dir: `C:\Users\alice\.aim-mcp`,
			Args: []string{"watch", "--home", `C:\Users\alice\.aim-mcp`, "--config", `C:\My Configs\a&b.json`}},
		path: `C:\Users\alice\.aim-mcp\aim-mcp-watch.xml`,
		want: `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>aim-mcp watch: keep MCP client configs wrapped. Written by "aim-mcp watch --service install"; "aim-mcp watch --service uninstall" removes it.</Description>
    <URI>\aim-mcp watch</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>PC\alice</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>PC\alice</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>3</Count>
    </RestartOnFailure>
    <StartWhenAvailable>true</StartWhenAvailable>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>C:\Program Files\aim-mcp\aim-mcp.exe</Command>
      <Arguments>watch --home C:\Users\alice\.aim-mcp --config &#34;C:\My Configs\a&amp;b.json&#34; --log C:\Users\alice\.aim-mcp\watch.log</Arguments>
    </Exec>
  </Actions>
</Task>
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Path(); got != tt.path {
				t.Errorf("Path() = %q, want %q", got, tt.path)
			}
			got, err := tt.s.Render()
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if tt.s.GOOS == "windows" {
				want = strings.ReplaceAll(want, "\n", "\r\n")
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("Render() (-got +want):\n%s", diff)
			}
		})
	}
}

func TestWindowsArg(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:           `plain`,
		``:                `""`,
		`C:\a b\`:         `"C:\a b\\"`,
		`say "hi"`:        `"say \"hi\""`,
		`C:\dir\`:         `C:\dir\`,
		`a\"b c`:          `"a\\\"b c"`,
		`tab	here`:        `"tab	here"`,
		`C:\x y\z\\"q r"`: `"C:\x y\z\\\\\"q r\""`,
	} {
		if got := windowsArg(in); got != want {
			t.Errorf("windowsArg(%q) = %s, want %s", in, got, want)
		}
	}
}

// fakeManager records service manager commands.
type fakeManager struct {
	cmds []string
	fail string // a command prefix that fails
}

func (f *fakeManager) run(name string, args ...string) (string, error) {
	c := strings.Join(append([]string{name}, args...), " ")
	f.cmds = append(f.cmds, c)
	if f.fail != "" && strings.HasPrefix(c, f.fail) {
		return "Failed to connect to bus: No medium found", os.ErrPermission
	}
	return "active", nil
}

func TestServiceInstall(t *testing.T) {
	tests := []struct {
		goos              string
		install, uninstal []string
	}{{
		goos: "linux",
		install: []string{"systemctl --user daemon-reload", "systemctl --user enable aim-mcp-watch.service",
			"systemctl --user restart aim-mcp-watch.service"},
		uninstal: []string{"systemctl --user disable --now aim-mcp-watch.service", "systemctl --user daemon-reload"},
	}, {
		goos:     "darwin",
		install:  []string{"launchctl bootout gui/501/org.opena2a.aim-mcp.watch", "launchctl bootstrap gui/501 PATH"},
		uninstal: []string{"launchctl bootout gui/501/org.opena2a.aim-mcp.watch"},
	}}
	for _, tt := range tests {
		t.Run(tt.goos, func(t *testing.T) {
			dir := t.TempDir()
			m := &fakeManager{}
			s := Service{GOOS: tt.goos, Exe: "/bin/aim-mcp", Args: []string{"watch", "--home", dir}, Home: dir,
				ConfigHome: filepath.Join(dir, ".config"), Dir: dir, UID: 501, Run: m.run}
			if _, err := s.Install(); err != nil {
				t.Fatal(err)
			}
			want := strings.Join(tt.install, "\n")
			want = strings.ReplaceAll(want, "PATH", s.Path())
			if got := strings.Join(m.cmds, "\n"); got != want {
				t.Errorf("Install ran:\n%s\nwant:\n%s", got, want)
			}
			b, err := os.ReadFile(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			if r, _ := s.Render(); string(b) != r {
				t.Errorf("written file differs from Render()")
			}
			if text, ok := s.Status(); !ok || !strings.Contains(text, "installed: "+s.Path()) {
				t.Errorf("Status() = %q, %v", text, ok)
			}
			m.cmds = nil
			if _, err := s.Uninstall(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(m.cmds, tt.uninstal); diff != "" {
				t.Errorf("Uninstall ran (-got +want):\n%s", diff)
			}
			if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
				t.Error("Uninstall left the file")
			}
			if text, ok := s.Status(); ok || !strings.Contains(text, "not installed") {
				t.Errorf("Status() after uninstall = %q, %v", text, ok)
			}
		})
	}
}

// TestServiceInstallFails: without a user manager the file is written and
// the failure says which command failed and what it said.
func TestServiceInstallFails(t *testing.T) {
	dir := t.TempDir()
	m := &fakeManager{fail: "systemctl --user daemon-reload"}
	s := Service{GOOS: "linux", Exe: "/bin/aim-mcp", Args: []string{"watch"}, ConfigHome: dir, Run: m.run}
	_, err := s.Install()
	if err == nil || !strings.Contains(err.Error(), "systemctl --user daemon-reload: permission denied: Failed to connect to bus") {
		t.Errorf("Install() error = %v", err)
	}
	if _, err := os.Stat(s.Path()); err != nil {
		t.Errorf("unit not written: %v", err)
	}
}

// TestServiceWindowsFile: schtasks reads UTF-16 with a byte order mark.
func TestServiceWindowsFile(t *testing.T) {
	dir := t.TempDir()
	m := &fakeManager{}
	// Path joins Dir and the name with a backslash: on other systems that
	// makes a file beside dir, removed at the end.
	s := Service{GOOS: "windows", Exe: `C:\aim-mcp.exe`, Args: []string{"watch"}, User: `PC\ä`, Dir: dir, Run: m.run}
	p := s.Path()
	if _, err := s.Install(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0xff || b[1] != 0xfe || len(b)%2 != 0 {
		t.Fatalf("not UTF-16LE with a BOM: % x", b[:4])
	}
	u := make([]uint16, 0, len(b)/2-1)
	for i := 2; i < len(b); i += 2 {
		u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
	}
	if text, _ := s.Render(); string(utf16.Decode(u)) != text {
		t.Error("decoded file differs from Render()")
	}
	want := []string{"schtasks /End /TN aim-mcp watch", "schtasks /Create /TN aim-mcp watch /XML " + p + " /F", "schtasks /Run /TN aim-mcp watch"}
	if diff := cmp.Diff(m.cmds, want); diff != "" {
		t.Errorf("Install ran (-got +want):\n%s", diff)
	}
	os.Remove(p)
}
