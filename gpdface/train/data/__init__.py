"""Training data: exemplar pairs and their augmentation, photo folders, the pinned face bank, given landmarks."""
