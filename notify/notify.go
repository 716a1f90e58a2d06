// Package notify tells the person at the computer that a tool call waits
// for them, by the desktop's own notifications: the freedesktop
// notification service on D-Bus (Linux), Notification Center through
// osascript (macOS), a toast through PowerShell (Windows).
//
// A Notifier sends at most one notification per approval and a few per
// minute, so a burst of held calls does not bury the desktop.
package notify

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Note is one notification.
type Note struct {
	// Key names what the note is about (an approval id): a key is notified
	// once.
	Key   string
	Title string
	Body  string
	// Link is the dashboard's address of the approval.
	Link string
}

// PerMinute is how many notifications a Notifier sends in a minute at most.
const PerMinute = 4

// Notifier sends desktop notifications.
type Notifier struct {
	// Bus is the D-Bus address of the session bus (Linux); empty is the
	// session's own ($DBUS_SESSION_BUS_ADDRESS).
	Bus string
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu   sync.Mutex
	sent map[string]bool
	last []time.Time // the sends of the last minute
}

// ErrLimited is returned for a note not sent because of the rate limit.
var ErrLimited = fmt.Errorf("notification not sent: more than %d in the last minute", PerMinute)

// Send shows n on the desktop, unless its key was notified already (nil
// then) or the rate limit holds it back (ErrLimited).
func (d *Notifier) Send(ctx context.Context, n Note) error {
	now := time.Now()
	if d.Now != nil {
		now = d.Now()
	}
	d.mu.Lock()
	if d.sent == nil {
		d.sent = map[string]bool{}
	}
	if n.Key != "" && d.sent[n.Key] {
		d.mu.Unlock()
		return nil
	}
	recent := d.last[:0]
	for _, t := range d.last {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	d.last = recent
	if len(d.last) >= PerMinute {
		d.mu.Unlock()
		return ErrLimited
	}
	d.last = append(d.last, now)
	if n.Key != "" {
		d.sent[n.Key] = true
	}
	d.mu.Unlock()
	if err := d.send(ctx, n); err != nil {
		return fmt.Errorf("desktop notification: %w", err)
	}
	return nil
}
