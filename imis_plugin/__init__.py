"""Plugin shell: GUI, settings, database access and layer loading."""
