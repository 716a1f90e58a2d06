package poison

import (
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// chars reports what the fields hold that a person cannot see, and adds
// the text that tag characters spell as a field of its own, so the phrase
// rules read it too.
func (sc *scan) chars() {
	d := &sc.d
	n := len(d.fields)
	for i := 0; i < n; i++ {
		c, f := d.chars[i], d.fields[i]
		at := func(off int) string { return excerpt(f.raw, off, off+1) }
		if c.escape > 0 {
			sc.add(Finding{Rule: "control.escape", Severity: Hard, Where: f.where, Evidence: at(c.firstEscape),
				Why: "holds terminal escape sequences, which can hide or repaint text on the person's screen"})
		}
		if c.control > 0 {
			sc.add(Finding{Rule: "control.char", Severity: Hard, Where: f.where, Evidence: at(c.firstControl),
				Why: "holds control characters that a person does not see"})
		}
		if c.tag > 0 {
			sc.add(Finding{Rule: "unicode.tag", Severity: Hard, Where: f.where, Evidence: at(c.firstTag),
				Why: "hides text in invisible Unicode tag characters that the model reads and the person does not see"})
			if len(c.hidden) > 0 && len(d.fields) < MaxFields {
				d.add(f.where, string(c.hidden), false)
			}
		}
		if c.bidi > 0 {
			sc.add(Finding{Rule: "unicode.bidi", Severity: Hard, Where: f.where, Evidence: at(c.firstBidi),
				Why: "holds bidirectional override characters, which show the person other text than the model reads"})
		}
		if c.vsRun >= 16 {
			sc.add(Finding{Rule: "unicode.variation", Severity: Hard, Where: f.where, Evidence: at(c.firstVS),
				Why: "hides data in a long run of invisible variation selectors"})
		} else if c.variation > 0 {
			sc.add(Finding{Rule: "unicode.variation", Severity: Soft, Where: f.where, Evidence: at(c.firstVS),
				Why: "holds invisible variation selectors outside an emoji"})
		}
		if c.zeroWidth > 0 {
			sc.add(Finding{Rule: "unicode.zero-width", Severity: Soft, Where: f.where, Evidence: at(c.firstZW),
				Why: "holds zero-width characters, which can split words so that a reader misses them"})
		}
		if c.private > 0 {
			sc.add(Finding{Rule: "unicode.private-use", Severity: Soft, Where: f.where, Evidence: at(c.firstPUA),
				Why: "holds private-use characters, which have no visible meaning"})
		}
		if c.padding {
			sc.add(Finding{Rule: "hidden.padding", Severity: Soft, Where: f.where, Evidence: at(c.firstPad),
				Why: "pushes text out of view with a long run of blank space"})
		}
		if j := strings.Index(f.raw, "<!--"); j >= 0 {
			end := strings.Index(f.raw[j:], "-->")
			if end < 0 {
				end = len(f.raw) - j
			}
			if strings.IndexFunc(f.raw[j:j+end], unicode.IsLetter) >= 0 {
				sc.add(Finding{Rule: "hidden.comment", Severity: Soft, Where: f.where, Evidence: excerpt(f.raw, j, j+end),
					Why: "holds an HTML comment, which a rendered view hides from the person"})
			}
		}
	}
	for i := range d.toks {
		if t := d.toks[i]; t.mixed && t.field >= 0 {
			f := d.fields[t.field]
			sc.add(Finding{Rule: "unicode.mixed-script", Severity: Soft, Where: f.where, Evidence: excerpt(f.raw, t.ra, t.rb),
				Why: "spells a word with look-alike letters from another script"})
			break
		}
	}
}

// decoded marks a field that holds the text of an encoded payload.
const decodedMark = " (decoded)"

// payloads decodes base64 and hex runs and adds what decodes to readable
// text as fields of their own; run before the phrase rules.
func (sc *scan) decodePayloads() {
	d := &sc.d
	n := len(d.fields)
	for i := 0; i < n; i++ {
		raw := d.fields[i].raw
		for j := 0; j < len(raw); {
			k := j
			for k < len(raw) && isB64(raw[k]) {
				k++
			}
			if k-j >= 20 {
				end := k
				for end < len(raw) && raw[end] == '=' && end-k < 2 {
					end++
				}
				if txt, ok := decodeRun(raw[j:end]); ok && len(d.fields) < MaxFields {
					d.add(d.fields[i].where+decodedMark, txt, false)
				}
			}
			if k == j {
				k++
			}
			j = k
		}
	}
}

func isB64(b byte) bool {
	return isAlnum(b) || b == '+' || b == '/' || b == '-' || b == '_'
}

// decodeRun decodes a run that looks like base64 or hex into readable text.
func decodeRun(s string) (string, bool) {
	var out []byte
	if isHex(s) && len(s) >= 24 {
		b, err := hex.DecodeString(s[:len(s)&^1])
		if err == nil {
			out = b
		}
	}
	if out == nil {
		t := strings.TrimRight(s, "=")
		if len(t)%4 == 1 {
			t = t[:len(t)-1]
		}
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(t); err == nil {
				out = b
				break
			}
		}
	}
	if len(out) < 12 || !utf8.Valid(out) {
		return "", false
	}
	printable := 0
	for _, r := range string(out) {
		if r >= 0x20 && r < 0x7F || r == '\n' || r == '\t' || r >= 0xA0 {
			printable++
		}
	}
	if printable*10 < utf8.RuneCount(out)*9 {
		return "", false
	}
	// Readable text has spaces or path separators; an identifier that
	// happens to decode has neither.
	if !strings.ContainsAny(string(out), " /|;") {
		return "", false
	}
	return string(out), true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// commandRE matches shell commands that fetch and run code, open a shell to
// another host, or wreck the home directory. Every repetition is bounded.
var commandRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b(?:curl|wget)\b[^|\n]{0,200}\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b` +
		`|/dev/tcp/|\bnc(?:at)?\b[^\n]{0,60}\s-[ec]\s|\brm\s+-(?:rf|fr|r)\s+(?:~|/|\$home|\*)` +
		`|\bchmod\s+(?:-r\s+)?[0-7]{3,4}\s+(?:~|/)|\bmkfifo\b|\bbase64\s+(?:-d|--decode)\b[^\n]{0,40}\|\s*(?:ba)?sh` +
		`|\bpowershell\b[^\n]{0,40}\s-(?:e|enc|encodedcommand)\s|\biex\s*\(|\binvoke-expression\b` +
		`|\beval\s*\(\s*(?:atob|base64|decode)|\bpython[23]?\s+-c\s+["'][^\n]{0,80}(?:socket|subprocess|os\.system)` +
		`|\b(?:curl|wget)\b[^\n]{0,120}(?:--data|-d|--upload-file|-f|-t)\s+@?[^\n]{0,40}(?:\.ssh|\.env|\.aws|passwd|id_rsa|mcp\.json)`)
})

var commandWords = map[string]bool{"curl": true, "wget": true, "sh": true, "bash": true, "rm": true, "chmod": true,
	"nc": true, "ncat": true, "powershell": true, "iex": true, "eval": true, "mkfifo": true, "tcp": true,
	"base64": true, "python": true, "python3": true, "invoke": true}

// payloads reports shell commands in the texts and encoded payloads that
// decode to instructions or commands.
func (sc *scan) payloads(s *Scanner) {
	d := &sc.d
	check := make([]bool, len(d.fields))
	for i := range d.toks {
		t := d.toks[i]
		if t.field >= 0 && commandWords[string(d.norm[t.a:t.b])] {
			check[t.field] = true
		}
	}
	for i, f := range d.fields {
		decoded := strings.HasSuffix(f.where, decodedMark)
		where := strings.TrimSuffix(f.where, decodedMark)
		if check[i] {
			if loc := commandRE().FindStringIndex(f.raw); loc != nil && (decoded || !discounted(f.raw, loc[0])) {
				if decoded {
					sc.add(Finding{Rule: "payload.encoded", Severity: Hard, Where: where, Evidence: Visible(f.raw, 140),
						Why: "hides a shell command in an encoded string"})
				} else {
					sc.add(Finding{Rule: "payload.command", Severity: Hard, Where: where, Evidence: excerpt(f.raw, loc[0], loc[1]),
						Why: "holds a shell command that runs downloaded code, opens a remote shell or wrecks files"})
				}
			}
		}
		if decoded && instructionish(f.raw) {
			sc.add(Finding{Rule: "payload.encoded", Severity: Hard, Where: where, Evidence: Visible(f.raw, 140),
				Why: "hides instructions in an encoded string"})
		}
	}
	// A phrase rule that fired on decoded text is an encoded payload.
	for i, f := range sc.out {
		if strings.HasSuffix(f.Where, decodedMark) {
			sc.out[i].Where = strings.TrimSuffix(f.Where, decodedMark)
			if f.Severity == Hard {
				sc.add(Finding{Rule: "payload.encoded", Severity: Hard, Where: sc.out[i].Where, Evidence: f.Evidence,
					Why: "hides instructions in an encoded string"})
			}
		}
	}
}

// discounted reports whether a command is shown as documentation ("the
// README shows: curl … | sh") rather than asked for.
func discounted(raw string, at int) bool {
	lo := max(at-80, 0)
	before := strings.ToLower(raw[lo:at])
	for _, w := range []string{"readme", "example", "e.g.", "docs", "documentation", "install", "such as", "detect", "block"} {
		if strings.Contains(before, w) {
			return true
		}
	}
	return false
}

// instructionish reports whether decoded text reads as instructions or a
// command: two or more words that instructions and commands use.
func instructionish(s string) bool {
	l := strings.ToLower(s)
	n := 0
	for _, w := range []string{"ignore", "instruction", "password", "secret", "token", "ssh", "curl", "wget", "bash",
		"http://", "https://", "rm -", "exec", "eval", "send", "user", "tool", "must", "always", "never", "read ",
		"credential", "api key", "upload", "post ", "chmod", ".env", "id_rsa", "system prompt", "do not"} {
		if strings.Contains(l, w) {
			n++
		}
	}
	return n >= 2
}

// skeleton is a name as it looks: NFKC, lower case, look-alike letters
// folded, invisible characters dropped, separators collapsed and trimmed.
func skeleton(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range norm.NFKC.String(name) {
		r = unicode.ToLower(r)
		if l, ok := confusable[r]; ok {
			r = l
		}
		switch {
		case isInvisible(r) || r >= 0xE0000 && r <= 0xE007F || unicode.Is(unicode.Cf, r):
			continue
		case r == '_' || r == '-' || r == '.' || r == ' ' || r == '/' || r == ':':
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('_')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}

// distinctName reports whether a tool name is specific enough that naming
// it in text refers to that tool: compound (send_email, sendEmail) or long.
func distinctName(n string) bool {
	if len(n) >= 12 {
		return true
	}
	for i := 1; i < len(n); i++ {
		if n[i] == '_' || n[i] == '-' || n[i] == '.' || n[i] >= 'A' && n[i] <= 'Z' && n[i-1] >= 'a' && n[i-1] <= 'z' {
			return i < len(n)-1
		}
	}
	return false
}

// checkName reports a tool name that is spelled to look like something it
// is not, or that collides with or imitates another server's tool.
func (sc *scan) checkName(s *Scanner, where, name string) {
	skel := skeleton(name)
	odd := false
	hasLatin, hasOther := false, false
	for _, r := range name {
		switch {
		case r < 0x80:
			hasLatin = hasLatin || isASCIILetter(byte(r))
		case isInvisible(r) || r >= 0xE0000 && r <= 0xE007F || unicode.Is(unicode.Cf, r):
			odd = true
		case r >= 0xFF01 && r <= 0xFF5E:
			odd = true // fullwidth
		default:
			if _, ok := confusable[unicode.ToLower(r)]; ok {
				hasOther = true
			}
		}
	}
	if odd || hasLatin && hasOther {
		sc.add(Finding{Rule: "name.lookalike", Severity: Hard, Where: where, Evidence: Visible(name, 140),
			Why: "the tool's name uses invisible, fullwidth or look-alike characters, so it reads as another name"})
	}
	for _, p := range s.peers {
		switch {
		case p.name == name:
			if p.distinct {
				sc.add(Finding{Rule: "name.collision", Severity: Soft, Where: where, Evidence: Visible(name, 140),
					Why: "server " + quoteName(p.server) + " has a tool of the same name; the model may call the wrong one"})
			}
		case p.skel == skel && skel != "":
			sc.add(Finding{Rule: "name.lookalike", Severity: Hard, Where: where, Evidence: Visible(name, 140),
				Why: "the name imitates tool " + quoteName(p.name) + " of server " + quoteName(p.server)})
		case p.distinct && len(skel) >= 6 && oneEdit(p.skel, skel):
			sc.add(Finding{Rule: "name.typosquat", Severity: Soft, Where: where, Evidence: Visible(name, 140),
				Why: "the name differs by one letter from tool " + quoteName(p.name) + " of server " + quoteName(p.server)})
		}
	}
}

func quoteName(s string) string { return "\"" + s + "\"" }

// oneEdit reports whether a and b differ by exactly one insertion,
// deletion or substitution.
func oneEdit(a, b string) bool {
	if a == b {
		return false
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(b)-len(a) > 1 {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	if len(a) == len(b) {
		return a[i+1:] == b[i+1:]
	}
	return a[i:] == b[i+1:]
}

// peerRefs reports text that names another server's tool: a tool has no
// business telling the model how to use tools it does not own.
func (sc *scan) peerRefs(s *Scanner) {
	if len(s.peers) == 0 {
		return
	}
	own := sc.own
	for _, f := range sc.d.fields {
		low := strings.ToLower(f.raw)
		for _, p := range s.peers {
			if own[p.name] {
				continue
			}
			if at := findName(low, strings.ToLower(p.name), p.distinct); at >= 0 {
				sc.add(Finding{Rule: "shadow.peer-tool", Severity: Hard, Where: strings.TrimSuffix(f.where, decodedMark),
					Evidence: excerpt(f.raw, at, at+len(p.name)),
					Why:      "names tool " + quoteName(p.name) + " of another server, " + quoteName(p.server) + ", to steer how the model uses it"})
			}
		}
	}
}

// findName finds a tool name as a word of its own. A plain word ("search")
// counts only when quoted or called a tool.
func findName(text, name string, distinct bool) int {
	for off := 0; off < len(text); {
		j := strings.Index(text[off:], name)
		if j < 0 {
			return -1
		}
		j += off
		end := j + len(name)
		before := j == 0 || !isAlnum(text[j-1])
		after := end == len(text) || !(isAlnum(text[end]) || text[end] == '_')
		if before && after {
			if distinct {
				return j
			}
			quoted := j > 0 && end < len(text) && strings.ContainsRune("`'\"", rune(text[j-1])) && text[end] == text[j-1]
			if quoted || strings.HasPrefix(text[end:], " tool") {
				return j
			}
		}
		off = j + 1
	}
	return -1
}
