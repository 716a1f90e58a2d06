//go:build !windows

package witness

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"time"
)

// Syslog sends lines to the local syslog socket, which journald reads on
// Linux and syslogd (and from it the unified log) on macOS. Each line is
// one RFC 3164 message of facility user, severity info, tagged "aim-mcp":
// what log/syslog writes to a local socket, with the socket's path ours
// to choose.
type Syslog struct {
	// Path is the socket; SyslogPath() when empty.
	Path string
}

// SyslogPath is the platform's syslog socket.
func SyslogPath() string {
	switch runtime.GOOS {
	case "darwin":
		return "/var/run/syslog"
	case "freebsd", "netbsd", "openbsd", "dragonfly":
		return "/var/run/log"
	}
	return "/dev/log"
}

// Send writes line as one datagram (or, to a stream socket, one line). A
// connection per line: at one line a second it costs nothing, and a
// restarted journald is found again without bookkeeping.
func (s Syslog) Send(line string) error {
	path := s.Path
	if path == "" {
		path = SyslogPath()
	}
	const userInfo = 1<<3 | 6
	msg := fmt.Sprintf("<%d>%s %s[%d]: %s", userInfo, time.Now().Format(time.Stamp), Tag, os.Getpid(), line)
	var err error
	for _, network := range []string{"unixgram", "unix"} {
		var c net.Conn
		if c, err = net.DialTimeout(network, path, time.Second); err != nil {
			continue
		}
		c.SetWriteDeadline(time.Now().Add(time.Second))
		data := msg
		if network == "unix" {
			data += "\n"
		}
		_, err = c.Write([]byte(data))
		c.Close()
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("syslog %s: %w", path, err)
}

// SystemLog is the platform's system log as a sink: path overrides the
// syslog socket ("" for the platform's own).
func SystemLog(path string) (Sink, error) { return Syslog{Path: path}, nil }
