package test

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// TestBenchScriptSmoke runs the load script with a tiny N so that it cannot
// rot; the real runs are in BENCHMARKS.md.
func TestBenchScriptSmoke(t *testing.T) {
	requireTool(t, "dnsperf")
	requireTool(t, "dig")
	requireTool(t, "taskset")
	cmd := exec.Command("bash", "../bench/run.sh", "-n", "3", "-r", "1", "-l", "1")
	cmd.Env = append(os.Environ(), "BENCH_SERVERS=mxzone auto")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench/run.sh: %v\n%s", err, out)
	}
	for _, server := range []string{"mxzone", "auto"} {
		m := regexp.MustCompile(`(?m)^\| ` + server + ` \| ([0-9.]+) \| ([0-9.]+) \|`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("no %s row in:\n%s", server, out)
		}
		if qps, _ := strconv.ParseFloat(string(m[1]), 64); qps <= 0 {
			t.Errorf("%s answered no queries:\n%s", server, out)
		}
	}
}

// TestDNSSECBenchScriptSmoke runs the DNSSEC benchmark with a tiny N and
// without its Knot column (whose starts take minutes), so that it cannot
// rot either.
func TestDNSSECBenchScriptSmoke(t *testing.T) {
	requireTool(t, "dnsperf")
	requireTool(t, "dig")
	requireTool(t, "taskset")
	cmd := exec.Command("bash", "../bench/dnssec.sh", "-n", "3", "-r", "1", "-l", "1")
	cmd.Env = append(os.Environ(), "BENCH_KNOT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench/dnssec.sh: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^\| mxzone signed \(nsec\) \| ([0-9]+) \| ([0-9]+) \| ([0-9.]+) \| ([0-9.]+) \|`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no signed row in:\n%s", out)
	}
	if qps, _ := strconv.ParseFloat(string(m[4]), 64); qps <= 0 {
		t.Errorf("the signed zones answered no DO queries:\n%s", out)
	}
}
