"""Benchmark evaluation: official Gaze-LLE metrics, dataset readers, and the evaluation loop.

Submodules are imported on use (``gazecam.research.eval.metrics`` needs torch and scikit-learn).
"""
