// Package dbustest runs what tests of desktop notifications need: a private
// D-Bus session bus (Debian's dbus-daemon) and a freedesktop notification
// service on it that keeps what it was sent.
package dbustest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

// SessionBus starts a private session bus and returns its address. Without
// dbus-daemon the test skips, unless CI is set (scripts/test.sh installs
// Debian's dbus package).
func SessionBus(t testing.TB) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no dbus-daemon: scripts/test.sh installs Debian's dbus package")
		}
		t.Skip("no dbus-daemon (apt-get install dbus)")
	}
	addr := "unix:path=" + filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command(daemon, "--session", "--nofork", "--nopidfile", "--print-address=1", "--address="+addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	return strings.TrimSpace(line)
}

// Notification is what the service was sent.
type Notification struct {
	App, Summary, Body string
}

// Service is a freedesktop notification service, as a desktop runs one.
type Service struct {
	mu  sync.Mutex
	got []Notification
}

// Notify implements org.freedesktop.Notifications.Notify.
func (s *Service) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, Notification{app, summary, body})
	return uint32(len(s.got)), nil
}

// Received is what the service was sent so far.
func (s *Service) Received() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notification(nil), s.got...)
}

// NotificationService registers a notification service on the bus at addr.
func NotificationService(t testing.TB, addr string) *Service {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &Service{}
	if err := conn.Export(s, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request the name org.freedesktop.Notifications: %v (%v)", err, reply)
	}
	return s
}
