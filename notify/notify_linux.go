package notify

import (
	"context"

	"github.com/godbus/dbus/v5"
)

// The freedesktop notification service (Desktop Notifications
// Specification, org.freedesktop.Notifications).
const (
	service = "org.freedesktop.Notifications"
	path    = "/org/freedesktop/Notifications"
	method  = service + ".Notify"
)

func (d *Notifier) send(ctx context.Context, n Note) error {
	var conn *dbus.Conn
	var err error
	if d.Bus != "" {
		conn, err = dbus.Connect(d.Bus, dbus.WithContext(ctx))
	} else {
		conn, err = dbus.ConnectSessionBus(dbus.WithContext(ctx))
	}
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
