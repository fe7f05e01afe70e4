"""Synthetic data generators with a planted, saved truth (one module per case)."""
