"""The command line: serve, route, run, usage, check and the demo."""
