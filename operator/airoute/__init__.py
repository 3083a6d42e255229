"""airoute: keep AI features running when an AI provider fails."""

__version__ = "0.1.0"
