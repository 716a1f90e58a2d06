package witness

import (
	"fmt"

	"golang.org/x/sys/windows/svc/eventlog"
)

// EventLog sends lines to the Windows Application event log under the
// source "aim-mcp", which a user's process can write to but not clear.
// The source is not registered, so Event Viewer shows the line as the
// event's insertion string beside a note that no description was found;
// the line is intact.
type EventLog struct{ l *eventlog.Log }

// eventID is the id of every head event.
const eventID = 1

// Send writes line as an information event.
func (e *EventLog) Send(line string) error {
	if err := e.l.Info(eventID, line); err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	return nil
}

// Close closes the event source.
func (e *EventLog) Close() error { return e.l.Close() }

// SystemLog is the platform's system log as a sink: on Windows the
// Application event log (path is ignored).
func SystemLog(path string) (Sink, error) {
	l, err := eventlog.Open(Tag)
	if err != nil {
		return nil, fmt.Errorf("event log: %w", err)
	}
	return &EventLog{l: l}, nil
}
