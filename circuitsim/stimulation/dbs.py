"""Deep brain stimulation (registers the "dbs" stimulus kind)."""
