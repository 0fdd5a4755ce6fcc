"""IMIS plugin for QGIS: entry point QGIS calls when it loads the plugin."""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    # Imported here so that importing the package has no side effects.
    from .imis_plugin.plugin import ImisPlugin

    return ImisPlugin(iface)
