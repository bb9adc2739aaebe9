"""Published networks rebuilt in plain torch, with state-dict names and shapes that match their
published checkpoints: JDE's Darknet-53 detector-and-embedding network (:mod:`vcm.nets.jde`)
and torchreid's OSNet re-identification network (:mod:`vcm.nets.osnet`).

Importing this package does not import torch: the torch modules live in
:mod:`vcm.nets.darknet` and :mod:`vcm.nets.osnet_torch` and are imported when a network is built.
"""
