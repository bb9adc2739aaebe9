"""Detection file formats: reading and writing :class:`vcm.detections.DetectionSequence`."""
