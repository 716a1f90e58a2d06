package policy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/opena2a-org/aim-mcp/internal/canon"
)

// Cond tests one argument, found by a JSON pointer (RFC 6901), with one of
// the [Operators].
type Cond struct {
	Ptr   string `json:"ptr"`
	Op    string `json:"op"` // an operator's Name: equals, prefix, regex
	Value string `json:"value"`
	test  func(arg string) bool
}

// Operator is one way a condition compares an argument with its value:
// how it is stored, how it is written after --when, and how it matches.
// Adding an operator is adding an entry to the table [Operators] returns.
type Operator struct {
	Name  string // as stored in a rule: "prefix"
	Mark  string // what ends the pointer in the --when form: "^" in /path^=PREFIX
	Value string // what the value is: "prefix"
	Means string // for help texts: "starts with"; empty when Value says it
	// compile prepares the test of an argument against value.
	compile func(value string) (func(arg string) bool, error)
}

var operators = []Operator{
	{Name: "equals", Value: "value", Means: "equals", compile: func(v string) (func(string) bool, error) {
		return func(s string) bool { return s == v }, nil
	}},
	{Name: "prefix", Mark: "^", Value: "prefix", Means: "starts with", compile: func(v string) (func(string) bool, error) {
		return func(s string) bool { return strings.HasPrefix(s, v) }, nil
	}},
	{Name: "regex", Mark: "~", Value: "regex", compile: func(v string) (func(string) bool, error) {
		re, err := regexp.Compile(v)
		if err != nil {
			return nil, fmt.Errorf("regex %q: %v", v, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		return re.MatchString, nil
	}},
}

// Operators lists the condition operators; the first, whose Mark is
// empty, is what a plain /path=VALUE means.
func Operators() []Operator { return append([]Operator(nil), operators...) }

func operator(name string) (Operator, bool) {
	for _, o := range operators {
		if o.Name == name {
			return o, true
		}
	}
	return Operator{}, false
}

// String is the --when form of the condition.
func (c *Cond) String() string {
	o, _ := operator(c.Op)
	return c.Ptr + o.Mark + "=" + c.Value
}

// ParseWhen reads the --when form of a condition: "PTR=VALUE", or the
// pointer followed by an operator's Mark, as in "PTR^=PREFIX".
func ParseWhen(s string) (*Cond, error) {
	if s == "" {
		return nil, nil
	}
	i := strings.IndexByte(s, '=')
	if i < 0 {
		var forms []string
		for _, o := range operators {
			forms = append(forms, "/pointer"+o.Mark+"="+o.Value)
		}
		return nil, fmt.Errorf("condition %q: want %s", s, orList(forms))
	}
	c := &Cond{Ptr: s[:i], Op: operators[0].Name, Value: s[i+1:]}
	for _, o := range operators {
		if o.Mark != "" && strings.HasSuffix(c.Ptr, o.Mark) {
			c.Ptr, c.Op = strings.TrimSuffix(c.Ptr, o.Mark), o.Name
			break
		}
	}
	return c, c.compile()
}

func (c *Cond) compile() error {
	if c.Ptr != "" && !strings.HasPrefix(c.Ptr, "/") {
		return fmt.Errorf("JSON pointer %q must start with /", c.Ptr)
	}
	for i := 0; i < len(c.Ptr); i++ {
		if c.Ptr[i] == '~' && (i+1 >= len(c.Ptr) || (c.Ptr[i+1] != '0' && c.Ptr[i+1] != '1')) {
			return fmt.Errorf("JSON pointer %q: ~ must be followed by 0 or 1", c.Ptr)
		}
	}
	o, ok := operator(c.Op)
	if !ok {
		var names []string
		for _, o := range operators {
			names = append(names, o.Name)
		}
		return fmt.Errorf("condition operator %q: want %s", c.Op, orList(names))
	}
	test, err := o.compile(c.Value)
	if err != nil {
		return err
	}
	c.test = test
	return nil
}

// match reports whether args (decoded with UseNumber) satisfy c.
func (c *Cond) match(args any) bool {
	v, ok := lookup(args, c.Ptr)
	if !ok || c.test == nil {
		return false
	}
	s, isStr := v.(string)
	if !isStr {
		s = string(canon.Value(v))
	}
	return c.test(s)
}

// lookup resolves a JSON pointer.
func lookup(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, true
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// orList joins "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
