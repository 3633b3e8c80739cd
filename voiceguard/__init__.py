"""voiceguard: a drop-in proxy that makes voice AI agents observable and compliant."""

__version__ = "0.1.0"
