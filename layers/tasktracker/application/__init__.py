"""Use cases: one per action of the spec, written against the ports in ports.py."""
