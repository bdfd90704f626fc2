// Package drivertest holds the conformance suites that every driver.Storage
// and driver.MetaStore implementation runs, in a few lines, from its own
// tests:
//
//	func TestConformance(t *testing.T) {
//		drivertest.RunStorageTests(t, func(t *testing.T) driver.Storage { return newStorage(t) })
//	}
//
// The suites check the contracts documented on the driver interfaces,
// failure paths and concurrency included, not only the happy path.
package drivertest
