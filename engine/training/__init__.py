"""Training: settings and optimisers, the Trainer, its events, the training process and devices."""
