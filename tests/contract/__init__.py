"""Contract tests: what every part of one kind promises, checked on each implementation."""
