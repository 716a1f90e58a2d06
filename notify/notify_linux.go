package notify

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/godbus/dbus/v5"
)

// ErrNoSessionBus is returned when the session has no D-Bus session bus: no
// desktop is logged in to show a notification.
var ErrNoSessionBus = errors.New("no desktop session bus (DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist)")

// The freedesktop notification service (Desktop Notifications
// Specification, org.freedesktop.Notifications).
const (
	service = "org.freedesktop.Notifications"
	path    = "/org/freedesktop/Notifications"
	method  = service + ".Notify"
)

func (d *Notifier) send(ctx context.Context, n Note) error {
	addr := d.Bus
	if addr == "" {
		var err error
		if addr, err = sessionBus(); err != nil {
			return err
		}
	}
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return err
	}
	defer conn.Close()
	body := n.Body
	if n.Link != "" {
		body += "\n" + n.Link
	}
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(byte(2))} // critical: stays until seen
	// app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout
	return conn.Object(service, path).CallWithContext(ctx, method, 0,
		"aim-mcp", uint32(0), "dialog-password", n.Title, body, []string{}, hints, int32(-1)).Err
}

// sessionBus finds the session bus of the logged-in desktop: the address
// the session exports, or the bus systemd keeps in the user's runtime
// directory. It never starts a bus (dbus-launch): a bus started for a
// process with no desktop has no one to show a notification to, and it
// would outlive the proxy.
func sessionBus() (string, error) {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a, nil
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		p := filepath.Join(dir, "bus")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + p, nil
		}
	}
	return "", ErrNoSessionBus
}
