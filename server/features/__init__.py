"""Feature modules; each exposes ``setup(server, services)``, called by ``app.build_server``."""
