"""Formatters: one alert model, several renderings (plain text for files and logs, Block Kit for Slack)."""

from .slack import blocks, fallback_text
from .text import text

__all__ = ["blocks", "fallback_text", "text"]
