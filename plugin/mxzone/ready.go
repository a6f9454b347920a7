package mxzone

// Ready implements ready.Readiness: true once the first set of zones is live
// and whole (a start from a snapshot publishes before it reads the zones
// the snapshot does not serve: see startVerified).
func (m *MXZone) Ready() bool { return m.gen.Load() != nil && !m.starting.Load() }
