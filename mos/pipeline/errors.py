"""The pipeline's one error type for an invalid experiment config.

    raise ConfigError("config/config.yaml: train.lr: expected number, got 'abc'")
"""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid config; the message names the file and the key path of every problem."""
