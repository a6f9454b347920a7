package mxzone

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// The collector's headroom (docs/operations.md, "Memory"). Go's default,
// GOGC=100, lets the heap grow to twice what is live before it collects:
// for a server whose live heap is mostly zones that never change, that is
// a second copy of every zone's size in garbage, which queries fill within
// seconds. After the first load the server asks for a fixed headroom
// instead: the live heap plus headroomBytes, or plus an eighth of it,
// whichever is more. An operator's GOGC or GOMEMLIMIT is left alone.

const headroomBytes = 64 << 20

// settleHeap hands the first load's garbage back to the system and sets
// the collector's headroom for the heap that is left. It runs once the
// first generation is served, away from the queries' path.
func settleHeap() {
	debug.FreeOSMemory()
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(headroomPercent(liveHeap()))
}

// headroomPercent is the GOGC that gives a live heap of live bytes its
// headroom: never more than Go's default, never less than an eighth.
func headroomPercent(live uint64) int {
	if live == 0 {
		return 100
	}
	p := int(headroomBytes * 100 / live)
	return max(12, min(100, p))
}

// liveHeap is the heap that survived the last collection.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
