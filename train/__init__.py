"""Training Qwen2.5-VL-family video reasoners: models, batches, SFT, GRPO, checkpoints."""
