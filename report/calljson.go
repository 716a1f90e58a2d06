package report

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// appendJSON appends c as json.MarshalIndent(c, prefix, indent) writes it,
// without reflection: a report of a million calls spent a fifth of its
// time in MarshalIndent. A value it does not write plainly (a string to
// escape, a time or number outside the common form) is encoded by
// encoding/json itself, so the bytes stay the same.
func (c *Call) appendJSON(b []byte, prefix, indent string) ([]byte, error) {
	b = append(b, '{')
	field := func(name string) {
		b = append(b, '\n')
		b = append(b, prefix...)
		b = append(b, indent...)
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `": `...)
	}
	var err error
	str := func(name, v string) {
		field(name)
		b, err = appendString(b, v, err)
	}
	field("seq")
	b = strconv.AppendInt(b, c.Seq, 10)
	b = append(b, ',')
	field("time")
	b, err = appendTime(b, c.Time, err)
	for _, f := range [...]struct {
		name, v   string
		omitEmpty bool
	}{{"server", c.Server, false}, {"client", c.Client, false}, {"server_id", c.ServerID, false}, {"tool", c.Tool, false},
		{"decision", c.Decision, false}, {"risk", c.Risk, true}, {"source", c.Source, true}, {"approval_id", c.ApprovalID, true},
		{"approver", c.Approver, true}, {"outcome", c.Outcome, false}} {
		if f.omitEmpty && f.v == "" {
			continue
		}
		b = append(b, ',')
		str(f.name, f.v)
	}
	if c.DurationMS != 0 {
		b = append(b, ',')
		field("duration_ms")
		b, err = appendFloat(b, c.DurationMS, err)
	}
	if c.ArgsDigest != "" {
		b = append(b, ',')
		str("args_digest", c.ArgsDigest)
	}
	b = append(b, ',')
	str("hash", c.Hash)
	if c.OutcomeSeq != 0 {
		b = append(b, ',')
		field("outcome_seq")
		b = strconv.AppendInt(b, c.OutcomeSeq, 10)
	}
	b = append(b, '\n')
	b = append(b, prefix...)
	b = append(b, '}')
	return b, err
}

// appendString appends s quoted as encoding/json quotes it (escaping
// HTML too), after an earlier error err does nothing but return it.
func appendString(b []byte, s string, err error) ([]byte, error) {
	if err != nil {
		return b, err
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendMarshal(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}

func appendTime(b []byte, t time.Time, err error) ([]byte, error) {
	if err != nil {
		return b, err
	}
	if y := t.Year(); y < 0 || y > 9999 || t.Location() != time.UTC {
		return appendMarshal(b, t) // another zone, or a year it refuses
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

func appendFloat(b []byte, f float64, err error) ([]byte, error) {
	if err != nil {
		return b, err
	}
	if a := math.Abs(f); a < 1e-6 || a >= 1e21 || math.IsNaN(f) {
		return appendMarshal(b, f) // the exponent form, or its error
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64), nil
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	return append(b, j...), err
}
