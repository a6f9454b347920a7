package mxzone

import "testing"

func TestHeadroomPercent(t *testing.T) {
	tests := []struct {
		live uint64
		want int
	}{
		{0, 100},                // nothing measured: Go's default
		{10 << 20, 100},         // a small server: never more than the default
		{64 << 20, 100},         // live = headroom
		{128 << 20, 50},         // 100k zones: 64 MiB on top
		{1300 << 20, 12},        // a million zones: an eighth on top, not 64 MiB
		{100 << 30, 12},         // never less than an eighth
		{headroomBytes * 4, 25}, // exact
	}
	for _, tc := range tests {
		if got := headroomPercent(tc.live); got != tc.want {
			t.Errorf("headroomPercent(%d MiB) = %d, want %d", tc.live>>20, got, tc.want)
		}
	}
}
