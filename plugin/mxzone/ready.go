package mxzone

// Ready implements ready.Readiness: true once the first set of zones is live.
func (m *MXZone) Ready() bool { return m.gen.Load() != nil }
