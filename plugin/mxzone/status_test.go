package mxzone

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// startStatus serves the status API of m on a port of 127.0.0.1.
func startStatus(t *testing.T, m *MXZone) string {
	t.Helper()
	m.status = &statusServer{addrs: []string{"127.0.0.1:0"}, m: m}
	if err := m.status.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.status.stop)
	return "http://" + m.status.bound[0]
}

// get fetches url and returns the code and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestStatusAPI(t *testing.T) {
	dir := writeZones(t, map[string]string{
		"example.net.zone":  provider,
		"a.example.zone":    customer("a.example.", "1"),
		"b.example.zone":    customer("b.example.", "1"),
		"spf.example.zone":  customer("spf.example.", "3", `@ TXT "v=spf1 <script>alert(1)</script> -all"`),
		"bad.example.zone":  "this is not a zone\n",
		"held.example.zone": customer("held.example.", "1"),
	})
	m := newTestPlugin(t, dir, DefaultPolicy())
	// held.example. is served, then edited into a version that fails: its last good version serves.
	writeFile(t, dir, "held.example.zone", customer("held.example.", "2", "@ MX 20 nohost.example.net."))
	if err := m.reloadNames([]string{"held.example.zone"}); err != nil {
		t.Fatal(err)
	}
	base := startStatus(t, m)
	decode := func(t *testing.T, body string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("%v:\n%s", err, body)
		}
	}
	t.Run("list", func(t *testing.T) {
		code, body := get(t, base+"/zones")
		var l zoneList
		decode(t, body, &l)
		if code != 200 || l.Counts["served"] != 3 || l.Counts["last_good"] != 1 || l.Counts["rejected"] != 2 {
			t.Fatalf("code %d, counts %v", code, l.Counts)
		}
		var names []string
		for _, z := range l.Zones {
			names = append(names, z.Zone)
		}
		if strings.Join(names, " ") != "bad.example. held.example. spf.example." {
			t.Fatalf("problem zones %v, want bad, held and spf", names)
		}
		if f := l.Zones[1].Findings; len(f) == 0 || f[0].Line != 6 || !strings.Contains(f[0].Message, "nohost.example.net.") {
			t.Fatalf("held.example. findings %v", f)
		}
	})
	t.Run("filters and pages", func(t *testing.T) {
		for _, tc := range []struct{ query, want string }{
			{"?state=rejected", "bad.example. spf.example."},
			{"?state=last_good", "held.example."},
			{"?rule=spf", "spf.example."},
			{"?rule=mx_target_address", "held.example."},
			{"?limit=1", "bad.example."},
			{"?limit=1&after=bad.example", "held.example."},
			{"?limit=2&after=held.example.", "spf.example."},
		} {
			_, body := get(t, base+"/zones"+tc.query)
			var l zoneList
			decode(t, body, &l)
			var names []string
			for _, z := range l.Zones {
				names = append(names, z.Zone)
			}
			if strings.Join(names, " ") != tc.want {
				t.Errorf("%s: %v, want %s", tc.query, names, tc.want)
			}
		}
		_, body := get(t, base+"/zones?limit=1")
		if !strings.Contains(body, `"next": "bad.example."`) {
			t.Errorf("a page with more after it names the next: %s", body)
		}
		for _, q := range []string{"?state=nope", "?rule=nope", "?limit=0", "?limit=5000", "?limit=x"} {
			if code, body := get(t, base+"/zones"+q); code != 400 || !strings.Contains(body, `"error"`) {
				t.Errorf("%s: %d %s, want 400 with an error", q, code, body)
			}
		}
	})
	t.Run("one zone", func(t *testing.T) {
		code, body := get(t, base+"/zones/held.example")
		var d zoneDetail
		decode(t, body, &d)
		if code != 200 || d.State != "last_good" || d.FileSerial != 2 || d.ServedSerial != 1 || d.Published == nil ||
			d.FileChanged.IsZero() || len(d.Findings) != 1 {
			t.Fatalf("code %d, %+v", code, d)
		}
		if strings.Join(d.DependsOn, " ") != "example.net." {
			t.Errorf("held.example. depends on %v, want example.net.", d.DependsOn)
		}
		_, body = get(t, base+"/zones/EXAMPLE.NET.")
		var p zoneDetail
		decode(t, body, &p)
		if strings.Join(p.Dependents, " ") != "a.example. b.example. held.example." {
			t.Errorf("dependents of example.net.: %v", p.Dependents)
		}
		_, body = get(t, base+"/zones/bad.example.")
		var b zoneDetail
		decode(t, body, &b)
		if b.FileSerial != 0 || b.ServedSerial != 0 || b.Published != nil || b.State != "rejected" {
			t.Errorf("bad.example.: %+v", b)
		}
		if code, body := get(t, base+"/zones/nothere.example"); code != 404 || !strings.Contains(body, `"error": "no zone file for nothere.example."`) {
			t.Errorf("unknown zone: %d %s", code, body)
		}
	})
	t.Run("page", func(t *testing.T) {
		ok0 := testutil.ToFloat64(statusRequests.WithLabelValues("200"))
		code, body := get(t, base+"/")
		for _, want := range []string{"<td>3</td>", `href="/zone?name=held.example."`, "nohost.example.net.", "&lt;script&gt;alert(1)&lt;/script&gt;"} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if code != 200 || strings.Contains(body, "<script>") {
			t.Fatalf("code %d; a zone's <script> must show as text:\n%s", code, body)
		}
		if got := testutil.ToFloat64(statusRequests.WithLabelValues("200")) - ok0; got != 1 {
			t.Errorf("status_requests_total{code=200} went up by %v, want 1", got)
		}
		code, body = get(t, base+"/zone?name=held.example")
		if code != 200 || !strings.Contains(body, "<h1>held.example.</h1>") || !strings.Contains(body, `href="/zone?name=example.net."`) {
			t.Errorf("zone page: %d\n%s", code, body)
		}
		if code, body := get(t, base+"/zone?name=%3Cb%3Ex"); code != 404 || strings.Contains(body, "<b>x") {
			t.Errorf("missing zone page: %d\n%s", code, body)
		}
		resp, err := http.Post(base+"/zones", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d, want 405", resp.StatusCode)
		}
	})
}

// TestStatusDuringReloads reads the API while zones are edited and
// reloaded: every answer is one whole generation (a zone counted once, the
// counts adding up to the zones), and the race detector sees no data race
// between the reload loop and the readers.
func TestStatusDuringReloads(t *testing.T) {
	dir := writeZones(t, map[string]string{"example.net.zone": provider, "a.example.zone": customer("a.example.", "1")})
	m := newTestPlugin(t, dir, DefaultPolicy())
	base := startStatus(t, m)
	done := make(chan struct{})
	errs := make(chan string, 1)
	go func() {
		defer close(done)
		for range 200 {
			resp, err := http.Get(base + "/zones")
			if err != nil {
				errs <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var l zoneList
			if err := json.Unmarshal(body, &l); err != nil {
				errs <- err.Error()
				return
			}
			total := 0
			for _, n := range l.Counts {
				total += n
			}
			if total != 2 {
				errs <- "counts that do not add up to the zones: " + string(body)
				return
			}
		}
	}()
	for i := 2; ; i++ {
		select {
		case <-done:
			select {
			case e := <-errs:
				t.Fatal(e)
			default:
			}
			return
		default:
		}
		broken := ""
		if i%2 == 0 {
			broken = "@ MX 20 nohost.example.net."
		}
		writeFile(t, dir, "a.example.zone", customer("a.example.", strconv.Itoa(i), broken))
		if err := m.reloadNames([]string{"a.example.zone"}); err != nil {
			t.Fatal(err)
		}
	}
}
