"""Triton kernels with torch references; dispatch picks Triton on CUDA, the reference elsewhere."""
