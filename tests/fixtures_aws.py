"""pytest fixtures for aws (servers on 127.0.0.1)."""
