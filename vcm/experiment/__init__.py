"""The experiment layer: a sweep point's record (:mod:`.points`), the summary and report of a
sweep (:mod:`.report`), the paper's tables (:mod:`.tables`), plots (:mod:`.plots`), BD-rate
(:mod:`.bdrate`), the published values (:mod:`.published`) and the run manifest
(:mod:`.manifest`). The stages (detectors, codecs, pose, trackers, segmenters) know nothing
of it."""
