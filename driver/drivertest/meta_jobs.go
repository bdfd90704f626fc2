package drivertest

// metaJobTests checks the JobStore methods.
func metaJobTests() []metaTest { return nil }
