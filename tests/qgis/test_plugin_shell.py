"""The plugin loads into real QGIS, registers its provider, and unloads cleanly."""
import subprocess
import sys
import zipfile
from pathlib import Path

from qgis.core import QgsApplication

REPO = Path(__file__).resolve().parents[2]


def test_plugin_registers_provider_menu_and_toolbar(imis_plugin, qgis_iface):
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("imis")
    assert provider is not None
    assert provider.name() == "IMIS"
    texts = [action.text() for action in imis_plugin.actions]
    assert "Load IMIS layers from the IMIS database" in texts
    assert "IMIS database settings…" in texts
    assert imis_plugin.toolbar is not None and imis_plugin.toolbar.actions()


def test_unload_removes_provider(qgis_app, qgis_iface, qgis_processing, imis_package):
    registry = QgsApplication.processingRegistry()
    if registry.providerById("imis"):
        registry.removeProvider(registry.providerById("imis"))
    plugin = imis_package.classFactory(qgis_iface)
    plugin.initGui()
    assert registry.providerById("imis") is not None
    plugin.unload()
    assert registry.providerById("imis") is None
    assert plugin.actions == []


def test_import_has_no_side_effects():
    """Importing the package and its modules must not register anything or touch QGIS."""
    code = (
        "import sys; sys.path.insert(0, 'build');"
        "import imis, imis.imis_plugin.plugin, imis.imis_plugin.layers, imis.processing_algorithms;"
        "from qgis.core import QgsApplication;"
        "assert QgsApplication.instance() is None, 'a QgsApplication was created at import time';"
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_metadata_is_complete_for_the_plugin_repository():
    import configparser

    meta = configparser.ConfigParser()
    meta.read(REPO / "build" / "imis" / "metadata.txt")
    general = meta["general"]
    for key in ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email",
                "repository", "tracker", "homepage", "tags", "hasProcessingProvider", "icon"):
        assert general.get(key, "").strip(), f"metadata.txt lacks {key}"
    assert general["qgisMinimumVersion"] == "3.22"
    assert general["hasProcessingProvider"] == "yes"
    assert (REPO / "build" / "imis" / general["icon"]).exists()
    assert (REPO / "LICENSE").exists()


def test_packaged_zip_installs_and_qgis_process_lists_the_provider(tmp_path):
    """make package -> unzip into an empty profile -> qgis_process enables it -> provider listed."""
    subprocess.run(["make", "-s", "package"], cwd=REPO, check=True, capture_output=True)
    zip_path = REPO / "dist" / "imis.zip"
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        assert "imis/metadata.txt" in names and "imis/__init__.py" in names
        assert "imis/resources.py" in names, "resources.qrc must be compiled into the package"
        assert not any(name.startswith("imis/tests/") for name in names)
        profile = tmp_path / "profile"
        plugins = profile / "profiles" / "default" / "python" / "plugins"
        plugins.mkdir(parents=True)
        archive.extractall(plugins)
    env = {
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    base = ["qgis_process.bin", "--profiles-path", str(profile)] if _supports_profiles_path() else ["qgis_process.bin"]
    if base == ["qgis_process.bin"]:
        # Older qgis_process: the default profile lives under $HOME.
        target = tmp_path / ".local" / "share" / "QGIS" / "QGIS3"
        target.parent.mkdir(parents=True, exist_ok=True)
        (profile).rename(target)
    enabled = subprocess.run(base + ["plugins", "enable", "imis"], env=env, capture_output=True, text=True, timeout=300)
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    listed = subprocess.run(base + ["list"], env=env, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
    assert "IMIS" in listed.stdout
    assert "imis:" in listed.stdout or "\nIMIS" in listed.stdout


def _supports_profiles_path():
    out = subprocess.run(["qgis_process.bin", "--help"], capture_output=True, text=True,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    return "--profiles-path" in (out.stdout + out.stderr)
