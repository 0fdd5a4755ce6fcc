"""Saving IMIS edits: collect QGIS edit buffers, check and derive as IMIS does, write in one transaction."""
