package mxzone

import (
	"slices"
	"testing"
)

// TestNotifierQueue: edits go out before the start-up backlog, and a zone
// queued again before its NOTIFY left is sent once, from the more urgent queue.
func TestNotifierQueue(t *testing.T) {
	n := newNotifier(func(string) error { return nil })
	n.addBulk("b1.example.", "b2.example.", "e2.example.")
	n.add("e1.example.", "e2.example.", "e1.example.")
	n.add("e3.example.")
	var order []string
	for z, ok := n.next(); ok; z, ok = n.next() {
		order = append(order, z)
	}
	// e2 waited in the backlog: its edit moves it ahead, and it is sent once.
	if want := []string{"e1.example.", "e2.example.", "e3.example.", "b1.example.", "b2.example."}; !slices.Equal(order, want) {
		t.Fatalf("sent %v, want %v", order, want)
	}
	n.add("e1.example.")
	if z, ok := n.next(); !ok || z != "e1.example." {
		t.Fatalf("a zone sent before can be queued again: got %q, %v", z, ok)
	}
}
