package mailauth

import "strings"

// tag is one tag=value of a tag list (RFC 6376 section 3.2), the form DKIM
// keys, DMARC, MTA-STS and TLS-RPT records share.
type tag struct {
	name, value string
	at, end     int // the span of the whole tag-spec, trimmed
	valueAt     int // where the value starts
}

// parseTags splits text into its tags. A tag-spec without "=", a tag name
// that validName refuses, or a tag given twice are
// problems of the level bad. Empty tag-specs (";;", a final ";") are
// allowed.
func parseTags(text string, bad Level, rfc string, validName func(string) bool) ([]tag, problems) {
	tags := make([]tag, 0, strings.Count(text, ";")+1)
	var ps problems
	var seen names
	for at := 0; at <= len(text); {
		end := strings.IndexByte(text[at:], ';')
		if end < 0 {
			end = len(text)
		} else {
			end += at
		}
		spec := text[at:end]
		lead := len(spec) - len(strings.TrimLeft(spec, " \t\r\n"))
		spec = strings.TrimSpace(spec)
		if spec != "" {
			t := tag{at: at + lead, end: at + lead + len(spec)}
			name, value, ok := strings.Cut(spec, "=")
			t.name = strings.TrimRight(name, " \t\r\n")
			t.value = strings.TrimLeft(value, " \t\r\n")
			t.valueAt = t.end - len(t.value)
			switch {
			case !ok:
				ps.add(bad, t.at, t.end, "%q is not a tag=value pair (%s)", spec, rfc)
			case !validName(t.name):
				ps.add(bad, t.at, t.end, "%q is not a valid tag name (%s)", t.name, rfc)
			default:
				if seen.has(tags, t.name) {
					ps.add(bad, t.at, t.end, "tag %s= appears twice, which makes the whole record invalid (%s)", t.name, rfc)
				}
				tags = append(tags, t)
			}
		}
		at = end + 1
	}
	return tags, ps
}

// tagName reports whether s is ALPHA *ALNUMPUNC.
func tagName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for _, c := range []byte(s) {
		if !isAlpha(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// find returns the tag called name, nil if there is none.
func find(tags []tag, name string) *tag {
	for i := range tags {
		if tags[i].name == name {
			return &tags[i]
		}
	}
	return nil
}

// splitList splits a value at sep, trimming white space around each item.
func splitList(value string, sep byte) []string {
	items := strings.Split(value, string(sep))
	for i, it := range items {
		items[i] = strings.TrimSpace(it)
	}
	return items
}

// names tells whether a tag name was seen before: by looking through the
// few tags of a usual record, and with a map once a record has many, so
// that a record of thousands of tags costs no more than its length.
type names map[string]bool

// has reports whether name is among tags (the tags so far), and notes it.
func (n *names) has(tags []tag, name string) bool {
	const few = 16
	if len(tags) < few {
		return find(tags, name) != nil
	}
	if *n == nil {
		*n = make(names, 2*few)
		for _, t := range tags {
			(*n)[t.name] = true
		}
	}
	if (*n)[name] {
		return true
	}
	(*n)[name] = true
	return false
}
