"""The embed stage: ``tracklets.v1`` windows -> identity vectors on ``embeddings.v1``."""
