"""Monitoring: metric series from the warehouse, the anomaly detector, scans and backtests."""

from .detector import DetectorSettings, Episode, find_episodes
from .scan import CHECKS, GROUPS, Check, Scan, run_check, run_checks

__all__ = ["CHECKS", "GROUPS", "Check", "DetectorSettings", "Episode", "Scan", "find_episodes", "run_check",
           "run_checks"]
