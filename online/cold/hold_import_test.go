package cold

// HoldImport makes every import wait in f before its transaction commits.
func HoldImport(f func()) func() {
	holdImport = f
	return func() { holdImport = nil }
}
