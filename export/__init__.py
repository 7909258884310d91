"""From a trained checkpoint to a verified ONNX bundle: distillation, graphs, INT8, parity."""
