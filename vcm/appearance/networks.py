"""The re-ID networks as appearance embedders (torch; docs/backends.md, "JDE and OSNet").

``osnet``: OSNet-x1.0 on 256x128 crops of each box (:mod:`vcm.nets.osnet`). ``jde``: JDE's own
512-d embeddings, each box taking that of the JDE proposal that overlaps it most
(:meth:`vcm.detectors.jde.JDEDetector.embed`). Both import torch only when built.
"""

from __future__ import annotations

from vcm.appearance import EMBEDDERS
from vcm.detectors.jde import JDEDetector
from vcm.nets.osnet import OSNetEmbedder

EMBEDDERS.register("osnet")(OSNetEmbedder)
EMBEDDERS.register("jde")(JDEDetector)
