"""Transcranial magnetic stimulation (registers the "tms" stimulus kind)."""
