package quote

import (
	"strings"
	"testing"
)

func TestQ(t *testing.T) {
	long := strings.Repeat("a", 20<<20)
	for _, tc := range []struct {
		in, want string
	}{
		{"v=spf1 -all", `"v=spf1 -all"`},
		{"tab\there", `"tab\there"`},
		{strings.Repeat("x", Max), `"` + strings.Repeat("x", Max) + `"`},
		{long, `"` + strings.Repeat("a", Max) + `"... (20971520 bytes)`},
		// A cut never splits a UTF-8 sequence: é is 2 bytes, at 99-100.
		{strings.Repeat("x", Max-1) + "é" + long, `"` + strings.Repeat("x", Max-1) + `"... (20971621 bytes)`},
	} {
		if got := Q(tc.in); got != tc.want {
			t.Errorf("Q(%.20q...) = %.200s, want %.200s", tc.in, got, tc.want)
		}
	}
}

func TestSprintf(t *testing.T) {
	long := strings.Repeat("b", 60<<20)
	for _, tc := range []struct {
		name   string
		format string
		args   []any
		want   string
	}{
		{"short args untouched", "%q: %s (%d)", []any{"ab", "cd", 7}, `"ab": cd (7)`},
		{"long %q", "token %q is bad", []any{long}, `token "` + strings.Repeat("b", Max) + `"... (62914560 bytes) is bad`},
		{"control bytes escaped", "%s", []any{"a\x1b[31mb"}, `a\027[31mb`},
	} {
		if got := Sprintf(tc.format, tc.args...); got != tc.want {
			t.Errorf("%s: got %.300s, want %.300s", tc.name, got, tc.want)
		}
	}
	if got := Sprintf("%s and %s", long, long); len(got) > MaxText+40 {
		t.Errorf("two long %%s args: %d bytes, want at most about %d", len(got), MaxText)
	}
}
