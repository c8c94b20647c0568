"""The store: sightings per identity and the append-only audit log (SQLite embedded, PostgreSQL in a cluster)."""
