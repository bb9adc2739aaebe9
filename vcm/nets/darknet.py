"""JDE's network (Wang et al., "Towards Real-Time Multi-Object Tracking", ECCV 2020) in torch:
YOLOv3's Darknet-53 backbone and three YOLO heads, each with a 512-channel embedding branch.

The layers are those of JDE's ``cfg/yolov3_1088x608.cfg`` and are built the way JDE's
``models.py`` (``create_modules``) builds them, so the parameter names of the published
checkpoint ``jde.1088x608.uncertainty.pt`` fit: layer ``i`` is ``module_list.i``, holding
``conv_i`` (a ``Conv2d``, with a bias only when the layer has no batch norm), ``batch_norm_i``,
``leaky_i`` (slope 0.1), ``upsample_i``, ``route_i`` / ``shortcut_i`` (no parameters) or
``yolo_i`` (JDE's three learnt loss weights ``s_c``, ``s_r``, ``s_id``, shape (1,), unused at
inference). JDE's ``classifier`` (a ``Linear(512, identities)`` used only in training) is not
part of this network; :func:`vcm.nets.checkpoints.read_state_dict` drops it from a checkpoint.

Importing this module imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

EMBEDDING_CHANNELS = 512
ANCHORS_PER_HEAD = 4
HEAD_CHANNELS = ANCHORS_PER_HEAD * 6
"""Per anchor: dx, dy, dw, dh and two confidence logits (background, person)."""


@dataclass(frozen=True)
class Layer:
    """One layer of the cfg: ``kind`` is ``convolutional``, ``shortcut``, ``route``,
    ``upsample`` or ``yolo``."""

    kind: str
    filters: int = 0
    size: int = 1
    stride: int = 1
    batch_norm: bool = True
    leaky: bool = True
    sources: tuple[int, ...] = ()
    head: int = -1


def _conv(filters: int, size: int, stride: int = 1) -> Layer:
    return Layer("convolutional", filters, size, stride)


def _linear_conv(filters: int, size: int) -> Layer:
    return Layer("convolutional", filters, size, 1, batch_norm=False, leaky=False)


def jde_layers() -> list[Layer]:
    """The 116 layers of ``yolov3_1088x608.cfg``, in order (indices as in the cfg)."""
    layers = [_conv(32, 3)]
    # Darknet-53: each stage halves the resolution, then repeats (1x1 half, 3x3 full, +input).
    for filters, repeats in ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)):
        layers.append(_conv(filters, 3, 2))
        for _ in range(repeats):
            layers += [_conv(filters // 2, 1), _conv(filters, 3), Layer("shortcut", sources=(-3,))]
    # Heads at strides 32, 16, 8; the second and third take the upsampled 1x1 output of the
    # head before and concatenate the backbone's layer 61 (stride 16) or 36 (stride 8).
    for head, (filters, lateral) in enumerate(((512, None), (256, 61), (128, 36))):
        if lateral is not None:
            layers += [Layer("route", sources=(-7,)), _conv(filters, 1),
                       Layer("upsample", stride=2), Layer("route", sources=(-1, lateral))]
        for _ in range(3):
            layers += [_conv(filters, 1), _conv(filters * 2, 3)]
        layers += [
            _linear_conv(HEAD_CHANNELS, 1),
            Layer("route", sources=(-3,)),              # the last 1x1 layer's output
            _linear_conv(EMBEDDING_CHANNELS, 3),        # the embedding branch
            Layer("route", sources=(-3, -1)),           # detection (24) + embedding (512)
            Layer("yolo", head=head),
        ]
    return layers


class _Passthrough(nn.Module):
    """Stands where the cfg has a route or shortcut (JDE's ``EmptyLayer``): no parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class _Upsample(nn.Module):
    def __init__(self, scale_factor: int) -> None:
        super().__init__()
        self.scale_factor = scale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional.interpolate(x, scale_factor=self.scale_factor, mode="nearest")


class YoloLayer(nn.Module):
    """Holds JDE's learnt task weights (``s_c``, ``s_r``, ``s_id``; the initial values are JDE's)
    so that the checkpoint's parameters have a place; at inference it passes its input on."""

    def __init__(self) -> None:
        super().__init__()
        self.s_c = nn.Parameter(-4.15 * torch.ones(1))
        self.s_r = nn.Parameter(-4.85 * torch.ones(1))
        self.s_id = nn.Parameter(-2.3 * torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class JDENetwork(nn.Module):
    """JDE-1088x608 without its training-only classifier.

    ``forward(images)`` takes (B, 3, H, W) float RGB in [0, 1] (H and W multiples of 32; JDE
    uses 608 x 1088) and returns the three heads' outputs, strides 32, 16, 8, each
    (B, 536, H / stride, W / stride): channels 0-23 are 4 anchors x (dx, dy, dw, dh,
    background logit, person logit), channels 24-535 the cell's embedding (not normalised).
    """

    def __init__(self) -> None:
        super().__init__()
        self.layers = jde_layers()
        self.module_list = nn.ModuleList()
        channels = [3]  # output channels of each layer so far; [0] is the input
        for index, layer in enumerate(self.layers):
            block = nn.Sequential()
            if layer.kind == "convolutional":
                block.add_module(f"conv_{index}", nn.Conv2d(
                    channels[-1], layer.filters, layer.size, stride=layer.stride,
                    padding=(layer.size - 1) // 2, bias=not layer.batch_norm))
                if layer.batch_norm:
                    block.add_module(f"batch_norm_{index}", nn.BatchNorm2d(layer.filters))
                if layer.leaky:
                    block.add_module(f"leaky_{index}", nn.LeakyReLU(0.1))
                out = layer.filters
            elif layer.kind == "upsample":
                block.add_module(f"upsample_{index}", _Upsample(layer.stride))
                out = channels[-1]
            elif layer.kind == "route":
                # Absolute indices count from layer 0, which is channels[1].
                out = sum(channels[source + 1 if source >= 0 else source]
                          for source in layer.sources)
                block.add_module(f"route_{index}", _Passthrough())
            elif layer.kind == "shortcut":
                out = channels[layer.sources[0]]
                block.add_module(f"shortcut_{index}", _Passthrough())
            else:
                out = channels[-1]
                block.add_module(f"yolo_{index}", YoloLayer())
            self.module_list.append(block)
            channels.append(out)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        outputs: list[torch.Tensor] = []
        heads: list[torch.Tensor] = []
        x = images
        for layer, block in zip(self.layers, self.module_list):
            if layer.kind in ("convolutional", "upsample"):
                x = block(x)
            elif layer.kind == "route":
                parts = [outputs[source] for source in layer.sources]
                x = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
            elif layer.kind == "shortcut":
                x = outputs[-1] + outputs[layer.sources[0]]
            else:
                heads.append(x)
            outputs.append(x)
        return heads
