package mxzone

import (
	"html/template"
	"net/http"
)

// The status page for support staff: the same facts as the API, rendered on
// the server by html/template, which escapes every name, string and message
// a customer's zone may hold. No script, no external asset.

var pageTemplates = template.Must(template.New("page").Parse(`{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} - coredns-mx</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;padding:1em;max-width:72em;color:#1b1b1b;background:#fff}
h1{font-size:1.4em;margin:.2em 0 .6em}h2{font-size:1.15em;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3em .5em;border-bottom:1px solid #ddd;vertical-align:top}
.counts td{font-variant-numeric:tabular-nums}.state{font-weight:600}.error{color:#a40000}.warning{color:#8a5a00}.info{color:#555}
code,.place{font-family:ui-monospace,monospace;font-size:.92em;word-break:break-all}
form{margin:.8em 0}input[type=text]{font:inherit;padding:.35em;width:min(28em,70%)}button{font:inherit;padding:.35em .8em}
ul{padding-left:1.2em}li{margin:.25em 0}
@media (max-width:40em){td,th{display:block;border:0;padding:.15em 0}tr{display:block;border-bottom:1px solid #ddd;padding:.4em 0}}
</style></head><body>{{end}}
{{define "findings"}}<ul class="findings">{{range .}}<li><span class="{{.Severity}}">{{.Severity}}</span>
<span class="place">{{.File}}:{{.Line}}</span>: <code>{{.Owner}}</code>: {{.Message}} ({{.Rule}})</li>{{end}}</ul>{{end}}
{{define "search"}}<form method="get" action="/zone"><label for="name">Zone</label>
<input type="text" id="name" name="name" placeholder="customer.example" required>
<button type="submit">Show</button></form>{{end}}
{{define "index"}}{{template "head" "Zones"}}
<h1>coredns-mx zones</h1>
{{with .List.Loading}}<p class="loading">Starting: {{.Step}}, {{.Done}} of {{.Total}}. No zone answers yet.</p>{{end}}
{{with .List.Snapshot}}<p class="loading">Starting: {{.Zones}} zones are served from the start snapshot while their files are checked.</p>{{end}}
<table class="counts"><tr>{{range .States}}<th>{{.}}</th>{{end}}</tr>
<tr>{{range .States}}<td>{{index $.List.Counts .}}</td>{{end}}</tr></table>
{{template "search"}}
<h2>Zones not served as their files read ({{len .List.Zones}}{{if .List.Next}}, more with the API{{end}})</h2>
{{if not .List.Zones}}<p>None: every zone file is served as it reads.</p>{{end}}
<table class="problems">{{range .List.Zones}}<tr><td><a href="/zone?name={{.Zone}}">{{.Zone}}</a><br>
<span class="state">{{.State}}</span></td><td>{{template "findings" .Findings}}{{if .More}}<p>and {{.More}} more</p>{{end}}</td></tr>{{end}}</table>
</body></html>{{end}}
{{define "zone"}}{{template "head" .Zone}}
<p><a href="/">All zones</a></p>{{template "search"}}
<h1>{{.Zone}}</h1>
<table class="facts">
<tr><th>State</th><td class="state">{{.State}}{{if .HeldBack}} (a newer version waits for another zone){{end}}{{if .FromSnapshot}} (from the start snapshot; its file is being checked){{end}}</td></tr>
<tr><th>File</th><td class="place">{{.File}}</td></tr>
<tr><th>Serial in the file</th><td>{{if .FileSerial}}{{.FileSerial}}{{else}}- (the file does not parse){{end}}</td></tr>
<tr><th>Serial served</th><td>{{if .ServedSerial}}{{.ServedSerial}}{{else}}none: SERVFAIL{{end}}</td></tr>
<tr><th>Served since</th><td>{{with .Published}}{{.Format "2006-01-02 15:04:05 MST"}}{{else}}-{{end}}</td></tr>
<tr><th>File changed</th><td>{{.FileChanged.Format "2006-01-02 15:04:05 MST"}}</td></tr>
{{with .DNSSEC}}<tr><th>DNSSEC</th><td>signed, {{.Denial}}; signatures refreshed {{.RefreshAt.Format "2006-01-02 15:04 MST"}}, expire {{.Expires.Format "2006-01-02 15:04 MST"}}</td></tr>{{with .Keys}}<tr><th>Keys</th><td>{{range .Keys}}{{.Role}} {{.Tag}} ({{.Algorithm}}): {{.Use}}<br>{{end}}{{.Rollover}}{{with .NextStep}}; next: {{.}}{{end}}{{with .NextAt}} at {{.Format "2006-01-02 15:04:05 MST"}}{{end}}</td></tr>{{end}}
<tr><th>DS for the registrar</th><td class="place">{{range .DS}}{{.}}<br>{{end}}</td></tr>{{end}}
{{with .Dynamic}}<tr><th>Dynamic updates</th><td>{{.Added}} records added and {{.Deleted}} deleted by UPDATE; {{.Updates}} updates since the start{{if .LastKey}}, the last by key {{.LastKey}} at {{.LastUpdate.Format "2006-01-02 15:04:05 MST"}}{{end}}; journal {{.JournalBytes}} bytes{{if .LastSerial}}, serials {{.FirstSerial}} to {{.LastSerial}}{{end}}</td></tr>{{end}}
</table>
<h2>Findings</h2>{{if .Findings}}{{template "findings" .Findings}}{{if .More}}<p>and {{.More}} more</p>{{end}}{{else}}<p>None.</p>{{end}}
<h2>Zones that depend on it</h2>{{if .Dependents}}<ul>{{range .Dependents}}<li><a href="/zone?name={{.}}">{{.}}</a></li>{{end}}</ul>{{else}}<p>None.</p>{{end}}
<h2>Zones it depends on</h2>{{if .DependsOn}}<ul>{{range .DependsOn}}<li><a href="/zone?name={{.}}">{{.}}</a></li>{{end}}</ul>{{else}}<p>None.</p>{{end}}
</body></html>{{end}}
{{define "missing"}}{{template "head" "Not found"}}
<p><a href="/">All zones</a></p>{{template "search"}}
<h1>No zone file for {{.}}</h1></body></html>{{end}}`))

// index serves the overview: counts, the search field, the problem zones.
func (s *statusServer) index(w http.ResponseWriter, _ *http.Request) {
	list := listZones(s.generation(), "", "", "", pageDefault)
	list.Loading = s.loading()
	renderPage(w, http.StatusOK, "index", struct {
		States []string
		List   zoneList
	}{outcomeNames[:], list})
}

// zonePage serves one zone's page, /zone?name=NAME.
func (s *statusServer) zonePage(w http.ResponseWriter, r *http.Request) {
	name := zoneName(r.URL.Query().Get("name"))
	d, ok := s.detail(name)
	if !ok {
		renderPage(w, http.StatusNotFound, "missing", name)
		return
	}
	renderPage(w, http.StatusOK, "zone", d)
}

// renderPage writes one page.
func renderPage(w http.ResponseWriter, code int, page string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := pageTemplates.ExecuteTemplate(w, page, data); err != nil {
		log.Errorf("status page %s: %v", page, err)
	}
}
