"""Training the gait model: the training loop, augmentation, dataset splits."""
