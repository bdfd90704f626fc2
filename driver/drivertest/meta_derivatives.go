package drivertest

// metaDerivativeTests checks the DerivativeStore methods.
func metaDerivativeTests() []metaTest { return nil }
