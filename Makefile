# IMIS QGIS plugin. `make help` lists the targets.
PYTHON     ?= /usr/bin/python3
VENV_PY    := .venv/bin/python
PLUGIN     := imis
BUILD_DIR  := build/$(PLUGIN)
SHIPPED    := __init__.py metadata.txt LICENSE imis_plugin processing_algorithms forms styles icons layouts
PROFILE    ?= default
QGIS_PLUGINS_DIR ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/$(PROFILE)/python/plugins
SAMPLE_GPKG ?= data/imis_sample_town.gpkg
export QT_QPA_PLATFORM ?= offscreen

.PHONY: help build package deploy demo test test-unit bench clean

help:
	@echo "make demo     run the plugin's algorithms on the embedded sample town (outputs in out/)"
	@echo "make test     install what is missing, start a throwaway PostGIS, run all tests headless"
	@echo "make package  build dist/imis.zip, installable in QGIS as it is"
	@echo "make deploy   copy the built plugin into the QGIS profile PROFILE=$(PROFILE)"
	@echo "make bench    benchmarks at Khulna size (results in bench/RESULTS.md)"

build:
	@scripts/install_deps.sh runtime
	@rm -rf $(BUILD_DIR) && mkdir -p $(BUILD_DIR)
	@cp -r $(wildcard $(SHIPPED)) $(BUILD_DIR)/
	@pyrcc5 -o $(BUILD_DIR)/resources.py resources.qrc
	@find $(BUILD_DIR) -name __pycache__ -prune -exec rm -rf {} +
	@echo "built $(BUILD_DIR)"

package: build
	@mkdir -p dist && rm -f dist/$(PLUGIN).zip
	@cd build && zip -qr ../dist/$(PLUGIN).zip $(PLUGIN)
	@echo "packaged dist/$(PLUGIN).zip"

deploy: build
	@mkdir -p "$(QGIS_PLUGINS_DIR)" && rm -rf "$(QGIS_PLUGINS_DIR)/$(PLUGIN)"
	@cp -r $(BUILD_DIR) "$(QGIS_PLUGINS_DIR)/$(PLUGIN)"
	@echo "deployed to $(QGIS_PLUGINS_DIR)/$(PLUGIN)"

demo: build
	@$(PYTHON) scripts/demo.py --gpkg $(SAMPLE_GPKG) --out out

test: build
	@scripts/install_deps.sh test
	@scripts/run_tests.sh

test-unit: build
	@scripts/install_deps.sh test
	@scripts/run_tests.sh tests/unit

bench: build
	@scripts/install_deps.sh bench
	@$(VENV_PY) bench/run.py

clean:
	rm -rf build dist out tests/output .pytest_cache
