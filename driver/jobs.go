package driver

// JobStore keeps durable background jobs and janitor sweeps.
type JobStore interface{}
