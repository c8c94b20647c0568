"""The science, by concern: ``vision`` (segmentation, pretreatment, gait parameters), ``model`` (network,
checkpoints, projection, embedder registry, inference), ``training``, ``evaluation``; ``dataset`` is the
CASIA-B layout they all read."""
