package drivertest

// metaOrganizeTests checks the OrganizeStore methods.
func metaOrganizeTests() []metaTest { return nil }
