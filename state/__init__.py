"""The state store: scans, stores, findings and events in SQL (SQLite or PostgreSQL), its schema and migrations,
the scan units and locks of distributed scans."""
