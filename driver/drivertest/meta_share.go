package drivertest

// metaShareTests checks the ShareStore methods.
func metaShareTests() []metaTest { return nil }
