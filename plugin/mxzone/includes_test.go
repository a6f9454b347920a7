package mxzone

import (
	"strings"
	"testing"
)

// TestIncludes: $INCLUDE reads fragments the provider allows, never another
// tenant's zone file or a hidden file, and a finding about an included file
// names the file and line without quoting what it holds.
func TestIncludes(t *testing.T) {
	const secret = "mysql://root:Pa55w0rd@db.internal:3306/prod"
	files := map[string]string{
		"other.example.zone": soaZone("other.example.", "www A 192.0.2.9"),
		".env":               "www A 192.0.2.10\n",
		"creds.txt":          "www " + secret + " A 192.0.2.11\n",
		"fragments/mail.inc": "mail A 192.0.2.25\n",
		"elsewhere/mail.inc": "mail A 192.0.2.26\n",
	}
	tests := []struct {
		name     string
		includes []string // the property; nil: the default
		line     string
		refused  string // what the finding says; "": served
	}{
		{"a fragment", nil, "$INCLUDE fragments/mail.inc", ""},
		{"another tenant's zone file", nil, "$INCLUDE other.example.zone", "is not a file that may be included"},
		{"a hidden file", nil, "$INCLUDE .env", "is not a file that may be included"},
		{"a file that is not a zone fragment", nil, "$INCLUDE creds.txt", "creds.txt:1: error: x.example.: syntax error: not a TTL (column 48)"},
		{"inside the includes directory", []string{"fragments/"}, "$INCLUDE fragments/mail.inc", ""},
		{"outside the includes directory", []string{"fragments/"}, "$INCLUDE elsewhere/mail.inc", "is not a file that may be included"},
		{"matching a pattern", []string{"*/mail.inc"}, "$INCLUDE elsewhere/mail.inc", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			zones := map[string]string{"x.example.zone": soaZone("x.example.", tc.line)}
			for k, v := range files {
				zones[k] = v
			}
			m := &MXZone{Origins: []string{"."}, server: "dns://test", loader: &loader{dir: writeZones(t, zones),
				origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits(), includes: tc.includes}}
			if err := m.reload(); err != nil {
				t.Fatal(err)
			}
			e := m.gen.Load().zones["x.example."]
			var text []string
			for _, f := range e.findings {
				text = append(text, f.String())
			}
			all := strings.Join(text, "\n")
			if strings.Contains(all, "Pa55w0rd") || strings.Contains(all, "192.0.2.9") {
				t.Fatalf("a finding quotes an included file:\n%s", all)
			}
			if tc.refused == "" {
				if e.status != outcomeServed {
					t.Fatalf("not served:\n%s", all)
				}
				return
			}
			if e.status == outcomeServed || !strings.Contains(all, tc.refused) {
				t.Fatalf("status %s, want refused with %q:\n%s", e.status, tc.refused, all)
			}
		})
	}
}
