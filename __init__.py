"""mmei: train, tune and serve MMEI, a multi-modal emotion-and-intent model, on Ray."""
