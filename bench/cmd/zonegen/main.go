// Command zonegen writes N synthetic customer zones into a directory.
//
//	go run ./bench/cmd/zonegen -n 100000 -dir /tmp/zones
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/coredns-mx/coredns-mx/internal/zonegen"
)

func main() {
	n := flag.Int("n", 1000, "number of zones")
	dir := flag.String("dir", "", "directory to write the zone files into")
	flag.Parse()
	if *dir == "" || *n < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := zonegen.Write(*dir, *n); err != nil {
		fmt.Fprintln(os.Stderr, "zonegen:", err)
		os.Exit(1)
	}
}
