"""Measurements of a trained model that can serve as objectives (inference latency)."""

from lightning_autotune.profiling._latency import LatencyResult, measure_latency

__all__ = ["LatencyResult", "measure_latency"]
