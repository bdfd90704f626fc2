package meta

// SetWalkPage sets how many files WalkFiles reads per query, for tests of
// its paging, and returns a func that restores the default.
func SetWalkPage(n int) (restore func()) {
	old := walkPage
	walkPage = n
	return func() { walkPage = old }
}
