"""pytest fixtures for azure (servers on 127.0.0.1)."""
