package driver

// OrganizeStore keeps collections and attachments to records.
type OrganizeStore interface{}
