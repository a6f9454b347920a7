package lat

import (
	"testing"
	"time"
)

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		lat  []time.Duration
		lost int
		want string
	}{
		{nil, 3, "no answers"},
		{[]time.Duration{3, 1, 2}, 0, "3 queries, p50 2ns, p99 2ns, max 3ns, lost 0"},
		{[]time.Duration{time.Millisecond}, 1, "1 queries, p50 1ms, p99 1ms, max 1ms, lost 1"},
	} {
		if got := Summary(tc.lat, tc.lost); got != tc.want {
			t.Errorf("Summary(%v, %d) = %q, want %q", tc.lat, tc.lost, got, tc.want)
		}
	}
}
