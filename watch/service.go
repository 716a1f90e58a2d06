package watch

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf16"

	"github.com/opena2a-org/aim-mcp/internal/atomicfile"
)

// Names of the login service on each OS.
const (
	UnitName     = "aim-mcp-watch.service"     // systemd user unit
	LaunchdLabel = "org.opena2a.aim-mcp.watch" // launchd agent
	TaskName     = "aim-mcp watch"             // Windows scheduled task
)

// Service runs "aim-mcp watch" at login: a systemd user unit on Linux (and
// other Unixes with systemd), a launchd agent on macOS, a scheduled task on
// Windows. Its file is rendered from a template; Install writes it and asks
// the OS's service manager to start it.
type Service struct {
	GOOS string
	Exe  string   // absolute path of aim-mcp
	Args []string // after Exe: "watch", "--home", ...
	// Env is environment the watcher needs and the service manager may not
	// give it (XDG_CONFIG_HOME, which says where Linux configs live).
	Env map[string]string

	Home       string // the user's home directory
	ConfigHome string // Linux: $XDG_CONFIG_HOME or ~/.config, where the unit goes
	Dir        string // aim-mcp's home: the log (macOS, Windows) and the task's XML (Windows)
	User       string // Windows: DOMAIN\user, the task's principal
	UID        int    // macOS: the gui/UID launchd domain

	// Run runs a service manager command and returns its combined output.
	Run func(name string, args ...string) (string, error)
}

// Path is where the service's file is written.
func (s Service) Path() string {
	switch s.GOOS {
	case "darwin":
		return path.Join(s.Home, "Library", "LaunchAgents", LaunchdLabel+".plist")
	case "windows":
		return strings.TrimRight(s.Dir, `\/`) + `\aim-mcp-watch.xml`
	}
	return path.Join(s.ConfigHome, "systemd", "user", UnitName)
}

// LogPath is where the watcher logs when no journal takes its stderr.
func (s Service) LogPath() string {
	if s.GOOS == "windows" {
		return strings.TrimRight(s.Dir, `\/`) + `\watch.log`
	}
	return path.Join(s.Dir, "watch.log")
}

// args are the watcher's arguments as the service runs them: on Windows
// the log goes to a file, since a scheduled task's stderr goes nowhere.
func (s Service) args() []string {
	if s.GOOS == "windows" {
		return append(slices.Clone(s.Args), "--log", s.LogPath())
	}
	return s.Args
}

type envVar struct{ Key, Value string }

func (s Service) env() []envVar {
	var out []envVar
	for k, v := range s.Env {
		out = append(out, envVar{k, v})
	}
	slices.SortFunc(out, func(a, b envVar) int { return strings.Compare(a.Key, b.Key) })
	return out
}

var funcs = template.FuncMap{"sdquote": systemdQuote, "sdenv": systemdEnv, "xml": xmlEscape, "winargs": windowsArgs}

const systemdUnit = `# Written by "aim-mcp watch --service install"; "aim-mcp watch --service uninstall" removes it.
[Unit]
Description=aim-mcp watch: keep MCP client configs wrapped
Documentation=https://github.com/opena2a-org/aim-mcp

[Service]
Type=simple
ExecStart={{sdquote .Exe}}{{range .Args}} {{sdquote .}}{{end}}
{{- range .Env}}
Environment={{sdenv (printf "%s=%s" .Key .Value)}}
{{- end}}
Restart=on-failure
RestartSec=5s

[Install]
WantedBy=default.target
`

const launchdPlist = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by "aim-mcp watch --service install"; "aim-mcp watch --service uninstall" removes it. -->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{{.Label}}</string>
	<key>ProgramArguments</key>
	<array>
		<string>{{xml .Exe}}</string>
{{- range .Args}}
		<string>{{xml .}}</string>
{{- end}}
	</array>
{{- if .Env}}
	<key>EnvironmentVariables</key>
	<dict>
{{- range .Env}}
		<key>{{xml .Key}}</key>
		<string>{{xml .Value}}</string>
{{- end}}
	</dict>
{{- end}}
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
	<string>{{xml .Log}}</string>
	<key>StandardErrorPath</key>
	<string>{{xml .Log}}</string>
</dict>
</plist>
`

const taskXML = `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>aim-mcp watch: keep MCP client configs wrapped. Written by "aim-mcp watch --service install"; "aim-mcp watch --service uninstall" removes it.</Description>
    <URI>\{{xml .Name}}</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>{{xml .User}}</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>{{xml .User}}</UserId>
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
      <Command>{{xml .Exe}}</Command>
      <Arguments>{{xml (winargs .Args)}}</Arguments>
    </Exec>
  </Actions>
</Task>
`

// Render returns the service file's text.
func (s Service) Render() (string, error) {
	data := struct {
		Exe, Label, Name, User, Log string
		Args                        []string
		Env                         []envVar
	}{s.Exe, LaunchdLabel, TaskName, s.User, s.LogPath(), s.args(), s.env()}
	// Parsed here, not when the package is initialised: every aim-mcp
	// process links this package, and few render a service file.
	text := systemdUnit
	switch s.GOOS {
	case "darwin":
		text = launchdPlist
	case "windows":
		text = taskXML
	}
	t := template.Must(template.New(s.GOOS).Funcs(funcs).Parse(text))
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	out := b.String()
	if s.GOOS == "windows" {
		out = strings.ReplaceAll(out, "\n", "\r\n")
	}
	return out, nil
}

// encode is the file's bytes: schtasks reads a task's XML as UTF-16.
func (s Service) encode(text string) []byte {
	if s.GOOS != "windows" {
		return []byte(text)
	}
	u := utf16.Encode([]rune(text))
	b := []byte{0xff, 0xfe} // little-endian byte order mark
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return b
}

// Install writes the service file and starts the service; a service
// already installed is replaced and restarted. It returns what it did.
func (s Service) Install() (string, error) {
	text, err := s.Render()
	if err != nil {
		return "", err
	}
	p := s.Path()
	if err := os.MkdirAll(dirOf(p), 0o755); err != nil {
		return "", fmt.Errorf("create %q: %w", dirOf(p), err)
	}
	mode := fs.FileMode(0o644) // launchd refuses agents others can write
	if err := atomicfile.WriteFile(p, s.encode(text), mode); err != nil {
		return "", err
	}
	msg := "wrote " + p + "\n"
	var steps [][]string
	switch s.GOOS {
	case "darwin":
		domain := "gui/" + strconv.Itoa(s.UID)
		s.Run("launchctl", "bootout", domain+"/"+LaunchdLabel) // not loaded yet is fine
		steps = [][]string{{"launchctl", "bootstrap", domain, p}}
	case "windows":
		s.Run("schtasks", "/End", "/TN", TaskName) // not running is fine
		steps = [][]string{{"schtasks", "/Create", "/TN", TaskName, "/XML", p, "/F"}, {"schtasks", "/Run", "/TN", TaskName}}
	default:
		steps = [][]string{
			{"systemctl", "--user", "daemon-reload"},
			{"systemctl", "--user", "enable", UnitName},
			{"systemctl", "--user", "restart", UnitName},
		}
	}
	for _, st := range steps {
		if out, err := s.Run(st[0], st[1:]...); err != nil {
			return msg, &ManagerError{Cmd: st, Out: out, Err: err}
		}
		msg += "ran " + strings.Join(st, " ") + "\n"
	}
	return msg + "started; it runs at every login", nil
}

// Uninstall stops the service and removes its file.
func (s Service) Uninstall() (string, error) {
	p := s.Path()
	var msg string
	switch s.GOOS {
	case "darwin":
		s.Run("launchctl", "bootout", "gui/"+strconv.Itoa(s.UID)+"/"+LaunchdLabel)
	case "windows":
		s.Run("schtasks", "/End", "/TN", TaskName)
		if out, err := s.Run("schtasks", "/Delete", "/TN", TaskName, "/F"); err != nil && fileExists(p) {
			return "", &ManagerError{Cmd: []string{"schtasks", "/Delete", "/TN", TaskName, "/F"}, Out: out, Err: err}
		}
	default:
		s.Run("systemctl", "--user", "disable", "--now", UnitName)
	}
	switch err := os.Remove(p); {
	case errors.Is(err, fs.ErrNotExist):
		msg += "not installed (" + p + " does not exist)\n"
	case err != nil:
		return "", err
	default:
		msg += "stopped and removed " + p + "\n"
	}
	if s.GOOS != "darwin" && s.GOOS != "windows" {
		s.Run("systemctl", "--user", "daemon-reload")
	}
	return strings.TrimSuffix(msg, "\n"), nil
}

// Status says whether the service is installed and what the service
// manager says of it. installed is whether its file exists.
func (s Service) Status() (text string, installed bool) {
	p := s.Path()
	if !fileExists(p) {
		return "not installed (" + p + " does not exist)", false
	}
	var cmd []string
	switch s.GOOS {
	case "darwin":
		cmd = []string{"launchctl", "print", "gui/" + strconv.Itoa(s.UID) + "/" + LaunchdLabel}
	case "windows":
		cmd = []string{"schtasks", "/Query", "/TN", TaskName, "/FO", "LIST", "/V"}
	default:
		cmd = []string{"systemctl", "--user", "status", "--no-pager", "--lines=5", UnitName}
	}
	out, _ := s.Run(cmd[0], cmd[1:]...) // systemctl status exits 3 when stopped
	return "installed: " + p + "\n" + strings.TrimRight(out, "\n"), true
}

// ManagerError is a service manager command that failed.
type ManagerError struct {
	Cmd []string
	Out string
	Err error
}

func (e *ManagerError) Error() string {
	out := strings.TrimSpace(e.Out)
	if out != "" {
		out = ": " + out
	}
	return fmt.Sprintf("%s: %v%s", strings.Join(e.Cmd, " "), e.Err, out)
}

func (e *ManagerError) Unwrap() error { return e.Err }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func dirOf(p string) string {
	i := strings.LastIndexAny(p, `/\`)
	if i <= 0 {
		return "."
	}
	return p[:i]
}

// systemdQuote quotes a word of an ExecStart= line: double quotes with
// backslash escapes when needed, and % and $ doubled, since systemd expands
// specifiers and variables there even inside quotes.
func systemdQuote(s string) string {
	return systemdEnv(strings.ReplaceAll(s, "$", "$$"))
}

// systemdEnv quotes an Environment= assignment, where only specifiers (%)
// are expanded.
func systemdEnv(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '_' || r == '-' || r == ':' || r == '@' || r == '=' || r == '+' || r == ',' || r == '%' || r == '$' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// windowsArgs joins arguments into a Windows command line the way the C
// runtime (and Go's os.Args) splits it again.
func windowsArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = windowsArg(a)
	}
	return strings.Join(out, " ")
}

func windowsArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			slashes++
		case '"': // backslashes before a quote are doubled, and the quote escaped
			b.WriteString(strings.Repeat(`\`, 2*slashes+1))
			b.WriteByte('"')
			slashes = 0
		default:
			b.WriteString(strings.Repeat(`\`, slashes))
			slashes = 0
			b.WriteByte(c)
		}
	}
	b.WriteString(strings.Repeat(`\`, 2*slashes))
	b.WriteByte('"')
	return b.String()
}
