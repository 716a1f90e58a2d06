package oauth

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/opena2a-org/aim-mcp/internal/remoteurl"
)

// OpenBrowser shows u in the user's browser without a shell: $BROWSER when
// set (the first of its colon-separated commands; %s is replaced by the URL,
// else the URL is appended), else the desktop's opener, with the URL as one
// argument. Only https URLs, and http URLs to this machine, are opened: an
// authorization server that names another scheme (file:, a custom handler)
// gets nothing run for it.
func OpenBrowser(u string) error {
	if err := checkBrowserURL(u); err != nil {
		return err
	}
	var argv []string
	if b := os.Getenv("BROWSER"); b != "" {
		first, _, _ := strings.Cut(b, string(os.PathListSeparator))
		if _, err := os.Stat(b); err == nil {
			first = b // a path that holds the separator (C:\...)
		}
		argv = strings.Fields(first)
		replaced := false
		for i, a := range argv {
			if strings.Contains(a, "%s") {
				argv[i], replaced = strings.ReplaceAll(a, "%s", u), true
			}
		}
		if !replaced {
			argv = append(argv, u)
		}
	} else {
		switch runtime.GOOS {
		case "darwin":
			argv = []string{"open", u}
		case "windows":
			argv = []string{"rundll32", "url.dll,FileProtocolHandler", u}
		default:
			argv = []string{"xdg-open", u}
		}
	}
	if len(argv) == 0 {
		return fmt.Errorf("$BROWSER names no command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("open the browser: %w", err)
	}
	go cmd.Wait() // reap it; the browser's exit says nothing about the login
	return nil
}

// checkBrowserURL allows https, and http to a loopback host.
func checkBrowserURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || strings.ContainsAny(raw, " \t\r\n\"'`") {
		return fmt.Errorf("the authorization URL %q is not a plain http(s) URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if remoteurl.Loopback(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("the authorization URL %q is not https (nor http to this machine); not opening it", raw)
}
