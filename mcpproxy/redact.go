package mcpproxy

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/opena2a-org/aim-mcp/internal/redact"
)

// maxLogged caps a logged string; the digest still covers the whole value.
const maxLogged = 1024

// Redacted is the form of a call's arguments that goes into the audit log:
// secret-looking values replaced, long strings cut. It returns compact JSON.
func Redacted(args []byte) json.RawMessage { return shownArgs(args, redactedJSON) }

// Approver is the form of a call's arguments shown to the person asked to
// approve it: every value whole, secrets masked with their length (see
// redact.Sized), so they see all that will run but what is hidden. It
// returns compact JSON.
func Approver(args []byte) json.RawMessage { return shownArgs(args, approverJSON) }

// shownArgs decodes args and renders them with form; empty arguments are
// {} and unparseable ones say so, whatever the form.
func shownArgs(args []byte, form func(any) json.RawMessage) json.RawMessage {
	args = bytes.TrimSpace(args)
	if len(args) == 0 {
		return json.RawMessage("{}")
	}
	v, err := decodeArgs(args)
	if err != nil {
		return json.RawMessage(`"[unparseable arguments]"`)
	}
	return form(v)
}

func decodeArgs(args []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// maxRecorded bounds the arguments a record keeps once long strings are
// folded: a call of a million small values would otherwise be written whole
// to the spool and moved whole into the chain. Past it the record says how
// big they were; args_digest still covers every byte.
const maxRecorded = 64 << 10

func redactedJSON(v any) json.RawMessage {
	f := logged(v)
	out := marshalArgs(f)
	if len(out) <= maxRecorded {
		return out
	}
	// Too big whole: each argument that is small is kept, and each big one
	// says how big it is, so that a call padded with a huge value still
	// shows what it does.
	if m, ok := f.(map[string]any); ok {
		kept := make(map[string]any, len(m))
		for k, val := range m {
			kept[k] = val
			if b := marshalArgs(val); len(b) > maxMember {
				kept[k] = fmt.Sprintf("[%d bytes, folded: more than a record keeps of one argument]", len(b))
			}
		}
		if out := marshalArgs(kept); len(out) <= maxRecorded {
			return out
		}
	}
	return json.RawMessage(fmt.Sprintf(`"[%d bytes of arguments, folded: more than the %d KiB a record keeps]"`, len(out), maxRecorded>>10))
}

// maxMember is how big one argument may be, folded, in a record whose
// arguments are over maxRecorded.
const maxMember = 4 << 10

func approverJSON(v any) json.RawMessage { return marshalArgs(redact.Value(v, redact.Sized)) }

func marshalArgs(v any) json.RawMessage {
	out, err := marshalNoEscape(v)
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
