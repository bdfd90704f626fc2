package driver

// DerivativeStore keeps preview derivatives tied to versions.
type DerivativeStore interface{}
