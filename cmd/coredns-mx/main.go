// Command coredns-mx is CoreDNS with the mxzone plugin: an authoritative DNS
// server for hosting providers that refuses broken mail routing.
//
//	coredns-mx -conf Corefile          run the server
//	coredns-mx check [--format text|json] PATH...   validate zones offline
//	coredns-mx dnssec ds [--conf Corefile] ZONE...  the DS records for the registrar
//	coredns-mx tsig ZONE [KEYNAME]                  a new TSIG key for a zone's policy file
//	coredns-mx dynamic [--drop] ZONE                the zone as UPDATE made it, or the script undoing that
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/coredns/caddy"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The plugins an authoritative server uses; file and auto also serve as
	// the side-by-side baseline. No cloud or Kubernetes backends.
	_ "github.com/coredns/coredns/plugin/acl"
	_ "github.com/coredns/coredns/plugin/any"
	_ "github.com/coredns/coredns/plugin/auto"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/bufsize"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/cancel"
	_ "github.com/coredns/coredns/plugin/chaos"
	_ "github.com/coredns/coredns/plugin/debug"
	_ "github.com/coredns/coredns/plugin/dnssec"
	_ "github.com/coredns/coredns/plugin/dynupdate"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/header"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/metadata"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/minimal"
	_ "github.com/coredns/coredns/plugin/nsid"
	_ "github.com/coredns/coredns/plugin/pprof"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/rewrite"
	_ "github.com/coredns/coredns/plugin/root"
	_ "github.com/coredns/coredns/plugin/secondary"
	_ "github.com/coredns/coredns/plugin/template"
	_ "github.com/coredns/coredns/plugin/timeouts"
	_ "github.com/coredns/coredns/plugin/transfer"
	_ "github.com/coredns/coredns/plugin/tsig"
	_ "github.com/coredns/coredns/plugin/whoami"

	_ "github.com/coredns-mx/coredns-mx/plugin/mxzone"
)

// directives is the plugin chain order: infrastructure first, then plugins
// that rewrite or answer from caches, then the data plugins. mxzone comes
// after cache, transfer, dnssec and loadbalance, so that they wrap its
// answers, and before the other data plugins, so that its fallthrough has
// somewhere to go.
var directives = []string{
	"root",
	"metadata",
	"cancel",
	"timeouts",
	"reload",
	"nsid",
	"bufsize",
	"bind",
	"debug",
	"ready",
	"health",
	"pprof",
	"prometheus",
	"errors",
	"log",
	"any",
	"chaos",
	"loadbalance",
	"tsig",
	"rewrite",
	"acl",
	"cache",
	"header",
	"dnssec",
	"minimal",
	"template",
	"transfer",
	"hosts",
	"mxzone",
	"dynupdate",
	"file",
	"auto",
	"secondary",
	"whoami",
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(runCheck(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "dnssec" {
		os.Exit(runDNSSEC(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "tsig" {
		os.Exit(runTsig(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "state" {
		os.Exit(runState(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "dynamic" {
		os.Exit(runDynamic(os.Args[2:], os.Stdout, os.Stderr))
	}
	if slices.Contains(os.Args[1:], "-plugins") || slices.Contains(os.Args[1:], "--plugins") {
		fmt.Print(describePlugins())
		os.Exit(0)
	}
	if err := dnsserver.SetDirectives(directives); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	coremain.Run()
}

// describePlugins lists the registered plugins with their server type
// ("dns.mxzone"), as CoreDNS did before 1.12 and as scripts still expect.
func describePlugins() string {
	var b strings.Builder
	b.WriteString("Server types:\n  dns\n\nOther plugins:\n")
	for _, name := range caddy.ListPlugins()["others"] {
		b.WriteString("  " + name + "\n")
	}
	return b.String()
}
