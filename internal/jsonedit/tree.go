package jsonedit

// Kind is the JSON type of a [Value].
type Kind uint8

const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "bool"
	case Number:
		return "number"
	case String:
		return "string"
	case Array:
		return "array"
	case Object:
		return "object"
	}
	return "invalid"
}

// Value is one JSON value and its byte span [Start, End) in the source.
// The span covers the value only: no surrounding whitespace or comments.
type Value struct {
	Kind       Kind
	Start, End int
	Str        string   // String: the decoded text
	Members    []Member // Object: members in source order
	Elems      []*Value // Array: elements in source order
}

// Member is one key/value pair of an object. KeyStart and KeyEnd span the
// quoted key, quotes included.
type Member struct {
	Key              string
	KeyStart, KeyEnd int
	Value            *Value
}

// Lookup returns the member of object v whose decoded key is key, or nil when
// v is not an object or has no such member.
func (v *Value) Lookup(key string) *Member {
	if v == nil || v.Kind != Object {
		return nil
	}
	for i := range v.Members {
		if v.Members[i].Key == key {
			return &v.Members[i]
		}
	}
	return nil
}

// Strings returns the decoded elements of an array of strings; ok is false
// when v is not an array or one of its elements is not a string.
func (v *Value) Strings() (s []string, ok bool) {
	if v == nil || v.Kind != Array {
		return nil, false
	}
	s = make([]string, 0, len(v.Elems))
	for _, e := range v.Elems {
		if e.Kind != String {
			return nil, false
		}
		s = append(s, e.Str)
	}
	return s, true
}
