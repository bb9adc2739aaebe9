# `make sweep` and `make test` each install into .venv first (once; again when pyproject.toml changes).
#   make sweep [CONFIG=configs/your.yaml] [CORES=N]   the sweep (docs/configs.md)
#   make test                                         test-light, then test-heavy (docs/development.md)
PYTHON ?= python3
VENV := .venv
HEAVY := .venv-heavy
BIN := $(VENV)/bin
# CPU cores the sweep's jobs may use at once (Snakemake's --cores).
CORES ?= 2
# The sweep config; empty: configs/default.yaml. Results go to results/<config name>/.
CONFIG ?=

# The local mirror of models, data and tools (docs/install.md, "Models, data and the mirror"):
# $VCM_MIRROR, else ../shared/mirror beside the checkout where there is one.
VCM_MIRROR ?= $(wildcard $(abspath $(CURDIR)/../shared/mirror))
ifneq ($(VCM_MIRROR),)
export VCM_MIRROR
endif
# A VTM build in the mirror (tools/vtm, with VTM's cfg/) is used as a user's own build is:
# on PATH, for the `vtm` tests. Without one, VTM must be on PATH already (or those tests skip).
TEST_PATH := $(if $(wildcard $(VCM_MIRROR)/tools/vtm/EncoderApp),$(VCM_MIRROR)/tools/vtm:)$(PATH)

.PHONY: install install-torch install-mmpose install-sam install-detectron2 install-heavy sweep \
	test test-light test-heavy bench bench-backends clean

install: $(VENV)/.installed

# mediapipe 0.10.21 is installed without its dependencies: it asks for opencv-contrib-python
# (a GUI build that would overwrite cv2/ of our headless contrib build) and for jax, which
# mp.solutions.pose never imports. Its other requirements are listed in pyproject.toml.
# trackeval (HOTA) likewise: it asks for opencv-python. .venv runs on numpy 2.
# `-qq` on the editable installs: recent pip (26.3 here) shows setuptools' notice about editable installs
# (a warning, 10 lines, on every install); errors still show.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install -qq -e '.[dev]' "numpy>=2.3,<3"
	$(BIN)/pip install --quiet --no-deps mediapipe==0.10.21 trackeval==1.3.0
	$(BIN)/python -c "import cv2, mediapipe; assert cv2.__version__ < '5', cv2.__version__; cv2.HOGDescriptor()"
	touch $@

# Paper-grade backends (docs/install.md, "Paper-grade backends"), into ENV (default .venv).
# torch and torchvision must be built for each other. --isolated ignores pip's configuration,
# so a local CPU-only torch wheel (a find-links folder) cannot pair with PyPI's torchvision.
ENV ?= $(VENV)
TORCH_PACKAGES ?= torch==2.13.0 torchvision==0.28.0
# mmcv-lite has no compiled operators; HRNet needs none (see vcm/pose/hrnet.py). For the full
# build: MMCV=mmcv==2.1.0 (prebuilt wheels on OpenMMLab's index, or a long compile).
MMCV ?= mmcv-lite==2.1.0
MM_PACKAGES = mmengine==0.10.7 $(MMCV) mmdet==3.3.0 mmpose==1.3.2

install-torch:
	$(ENV)/bin/pip --isolated install --quiet $(TORCH_PACKAGES)
	$(ENV)/bin/python -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"

# The mm packages each ask for opencv-python, which would overwrite cv2/: they go in with
# --no-deps, and the extra `mmpose` in pyproject.toml lists what they import. xtcocotools
# 1.14.3 (its latest) is compiled against numpy 1 and fails to import on numpy 2, so this
# environment gets numpy<2 (vcm, MediaPipe and TrackEval run on both).
install-mmpose: install-torch
	$(ENV)/bin/pip install -qq -e '.[mmpose]' "numpy<2"
	$(ENV)/bin/pip install --quiet --no-deps $(MM_PACKAGES)
	$(ENV)/bin/python -c "from vcm.pose.hrnet import import_mmpose; print('mmpose', import_mmpose()[0].__version__)"

# Segment Anything's reference code (the `sam` segmenter): pure Python on torch and
# torchvision, with no requirements of its own; the extra `sam` in pyproject.toml pins it.
install-sam: install-torch
	$(ENV)/bin/pip install -qq -e '.[sam]'
	$(ENV)/bin/python -c "import importlib.metadata as m, segment_anything; print('segment-anything', m.version('segment-anything'))"

# detectron2 is on no registry: a wheel built for this torch, the model mirror's
# ($$VCM_MIRROR/wheels, as CI has) by default, or DETECTRON2=WHEEL; or its source,
# DETECTRON2=git+https://github.com/facebookresearch/detectron2.git (needs GitHub and a C++
# compiler; --no-build-isolation builds against the torch installed first). With neither,
# it is left out with one line and its tests skip (docs/install.md).
DETECTRON2 ?= $(firstword $(wildcard $(VCM_MIRROR)/wheels/detectron2-*.whl))
# Two traps, hence in the same pip command: detectron2's dependency tensorboard pulls
# protobuf >= 6, which breaks mediapipe 0.10.21 ('FieldDescriptor' object has no attribute
# 'label'); detectron2.model_zoo imports pkg_resources, which setuptools 81 removed.
DETECTRON2_PINS = 'protobuf>=4.25.3,<5' 'setuptools<81'

ifeq ($(strip $(DETECTRON2)),)
install-detectron2:
	@echo "detectron2: not installed: no wheel in \$$VCM_MIRROR/wheels and no DETECTRON2=WHEEL_OR_SOURCE (docs/install.md); its tests will skip"
else
install-detectron2: install-torch
	$(ENV)/bin/pip install --quiet --no-build-isolation '$(DETECTRON2)' $(DETECTRON2_PINS)
	$(ENV)/bin/python -c "import detectron2, detectron2.model_zoo; print('detectron2', detectron2.__version__)"
endif

# The environment the heavy tests run in (markers `heavy` and `detectron2`): vcm, torch,
# torchvision, mmpose, segment-anything, detectron2.
install-heavy: $(HEAVY)/.installed

$(HEAVY)/.installed: pyproject.toml
	$(PYTHON) -m venv $(HEAVY)
	$(HEAVY)/bin/pip install --quiet --upgrade "pip>=24"
	$(HEAVY)/bin/pip install -qq -e '.[dev]' "numpy<2"
	$(HEAVY)/bin/pip install --quiet --no-deps trackeval==1.3.0
	$(MAKE) --no-print-directory install-mmpose ENV=$(HEAVY)
	$(MAKE) --no-print-directory install-sam ENV=$(HEAVY)
	$(MAKE) --no-print-directory install-detectron2 ENV=$(HEAVY)
	$(HEAVY)/bin/python -c "import cv2; assert cv2.__version__ < '5', cv2.__version__; cv2.HOGDescriptor()"
	$(HEAVY)/bin/python -c "import google.protobuf as p; assert p.__version__ < '5', p.__version__"
	touch $@

# `vcm sweep` puts the venv's bin/ first on the jobs' PATH (the rules call `vcm`), shows one
# progress line and keeps Snakemake's output in results/<config name>/sweep.log.
sweep: install
	$(BIN)/vcm sweep $(CONFIG) --cores $(CORES)

# Everything but the heavy backends in .venv, then the heavy backends in .venv-heavy. Tests
# that need what only the mirror has (models, PETS09, COCO images, VTM, the detectron2 wheel)
# skip, each naming what is missing; CI (VCM_REQUIRE_ALL=1) fails them instead. The vtm tests
# need VTM's EncoderApp and DecoderApp on PATH (or $$VCM_VTM_ENCODER/_DECODER).
test: test-light test-heavy

test-light: install
	PATH="$(TEST_PATH)" $(BIN)/pytest -m "not heavy and not detectron2"

test-heavy: install-heavy
	PATH="$(TEST_PATH)" $(HEAVY)/bin/pytest -m "heavy or detectron2"

bench: install
	$(BIN)/python experiments/bench_frontend.py

bench-backends: install-heavy
	$(HEAVY)/bin/python experiments/bench_backends.py

# Each config's results folder (results/<config name>/, logs inside), never results/README.md.
clean:
	rm -rf results/*/ .snakemake data/synthetic

# The figures in docs/ that README shows, redrawn from results/default/ (`make sweep`) and
# results/pets/ (`snakemake -c2 --configfile configs/pets.yaml`): experiments/docs_figures.py
# reruns the report on each and copies the chosen plots to docs/ under stable names.
.PHONY: figures
figures: install
	$(BIN)/python experiments/docs_figures.py
