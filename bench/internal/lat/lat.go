// Package lat summarizes the latencies a benchmark client measured.
package lat

import (
	"fmt"
	"slices"
	"time"
)

// Summary gives the count, median, 99th percentile and maximum of lat
// (sorted in place), with the queries lost.
func Summary(lat []time.Duration, lost int) string {
	if len(lat) == 0 {
		return "no answers"
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	return fmt.Sprintf("%d queries, p50 %v, p99 %v, max %v, lost %d", len(lat), p(0.5), p(0.99), lat[len(lat)-1], lost)
}
