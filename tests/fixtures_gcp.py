"""pytest fixtures for gcp (servers on 127.0.0.1)."""
