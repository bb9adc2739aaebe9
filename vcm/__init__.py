"""vcm: MPEG-VCM multitask experiments (detect once, code a foreground video, run tasks)."""

__version__ = "0.1.0"
