"""The frames stage: camera sources -> segmentation -> tracker -> windows -> publisher (``tracklets.v1``)."""
