"""The gait model: network, checkpoints, projection, the embedder registry and the torch inference engine."""
