package driver

// ShareStore keeps public links.
type ShareStore interface{}
