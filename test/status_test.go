package test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestStatusPageInChromium loads the status page of the running binary in
// headless Chromium: the zone an edit was refused for is there with its
// finding at FILE:LINE; a zone whose records hold a script shows it as text
// and the script does not run; the search field leads to the zone's page;
// and the screenshot is not blank. COREDNS_MX_SCREENSHOT=PATH also saves the
// screenshot there (docs/status-page.png is made so).
func TestStatusPageInChromium(t *testing.T) {
	browser := requireTool(t, "chromium")
	dir := copyDir(t, "../zones")
	writeAtomic(t, filepath.Join(dir, "evil.example.zone"), "$TTL 3600\n@ SOA ns1.example.net. h.example.net. 1 7200 3600 1209600 300\n"+
		"@ NS ns1.example.net.\n@ TXT \"v=spf1 <script>document.title='pwned'</script> -all\"\n")
	statusPort := freePort(t)
	s := startServer(t, dir, fmt.Sprintf("        reload 1h\n        status 127.0.0.1:%d", statusPort))
	port := strings.Split(s.addr, ":")[1]
	refused := `coredns_mxzone_reloads_total{result="refused",server="dns://127.0.0.1:` + port + `"}`
	before := s.metric(t, refused)
	path := filepath.Join(dir, "example.org.zone")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(orig), "2026113001", "2026113002", 1) + "@ IN MX 30 mx9.example.net.\n"
	writeAtomic(t, path, edited)
	waitFor(t, 10*time.Second, "the edit to be refused", func() bool { return s.metric(t, refused) > before })
	line := strings.Count(edited, "\n")

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1200, 900))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	base := fmt.Sprintf("http://127.0.0.1:%d", statusPort)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible("table.problems")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	title := run(t, ctx, chromedp.Title())
	problems := run(t, ctx, chromedp.Text("table.problems"))
	scripts := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("script").length`))
	shot := run(t, ctx, chromedp.FullScreenshot(100))
	for _, want := range []string{"example.org.", "last_good", fmt.Sprintf("example.org.zone:%d", line),
		"exchange mx9.example.net. does not exist in zone example.net.", "evil.example.", "<script>document.title='pwned'</script>"} {
		if !strings.Contains(problems, want) {
			t.Errorf("the page's problem zones lack %q:\n%s", want, problems)
		}
	}
	if title == "pwned" || scripts != 0 {
		t.Fatalf("a zone's script ran or is in the page: title %q, %d script elements", title, scripts)
	}
	checkScreenshot(t, shot)

	if err := chromedp.Do(ctx, chromedp.SetValue("#name", "EXAMPLE.ORG"), chromedp.Submit("#name"),
		chromedp.WaitVisible("table.facts")); err != nil {
		t.Fatalf("chromium, the search: %v", err)
	}
	heading := run(t, ctx, chromedp.Text("h1"))
	facts := run(t, ctx, chromedp.Text("table.facts"))
	if heading != "example.org." || !strings.Contains(facts, "2026113002") || !strings.Contains(facts, "2026113001") {
		t.Fatalf("zone page: %q\n%s", heading, facts)
	}
}

// run runs one browser action and returns what it gives.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return v
}

// checkScreenshot fails unless shot is a PNG with more than one colour, and
// saves it where COREDNS_MX_SCREENSHOT says.
func checkScreenshot(t *testing.T, shot []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	first := img.At(b.Min.X, b.Min.Y)
	blank := true
	for y := b.Min.Y; y < b.Max.Y && blank; y += 4 {
		for x := b.Min.X; x < b.Max.X && blank; x += 4 {
			blank = img.At(x, y) == first
		}
	}
	if blank || b.Dx() < 300 || b.Dy() < 200 {
		t.Fatalf("screenshot %dx%d is blank", b.Dx(), b.Dy())
	}
	if p := os.Getenv("COREDNS_MX_SCREENSHOT"); p != "" {
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
