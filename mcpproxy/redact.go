package mcpproxy

import (
	"bytes"
	"encoding/json"

	"github.com/opena2a-org/aim-mcp/internal/redact"
)

// maxLogged caps a logged string; the digest still covers the whole value.
const maxLogged = 1024

// Redacted is the form of a call's arguments that goes into the audit log:
// secret-looking values replaced, long strings cut. It returns compact JSON.
func Redacted(args []byte) json.RawMessage {
	args = bytes.TrimSpace(args)
	if len(args) == 0 {
		return json.RawMessage("{}")
	}
	v, err := decodeArgs(args)
	if err != nil {
		return json.RawMessage(`"[unparseable arguments]"`)
	}
	return redactedJSON(v)
}

func decodeArgs(args []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func redactedJSON(v any) json.RawMessage {
	out, err := marshalNoEscape(logged(v))
	if err != nil {
		return json.RawMessage(`"[unprintable arguments]"`)
	}
	return out
}

// Approver is the form of a call's arguments shown to the person asked to
// approve it: every value whole, secrets masked with their length (see
// redact.Sized), so they see all that will run but what is hidden. It
// returns compact JSON.
func Approver(args []byte) json.RawMessage {
	args = bytes.TrimSpace(args)
	if len(args) == 0 {
		return json.RawMessage("{}")
	}
	v, err := decodeArgs(args)
	if err != nil {
		return json.RawMessage(`"[unparseable arguments]"`)
	}
	return approverJSON(v)
}

func approverJSON(v any) json.RawMessage {
	out, err := marshalNoEscape(redact.Value(v, redact.Sized))
	if err != nil {
		return json.RawMessage(`"[unprintable arguments]"`)
	}
	return out
}

// logged masks secrets (see package redact) and folds long strings.
func logged(v any) any { return redact.Fold(v, redact.Hide, maxLogged) }

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
