"""Fine-tune a backbone on Ray Train and return its held-out logits."""
