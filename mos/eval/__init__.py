"""Evaluation helpers: MMLU dev parsing, lm-eval task configs and model wrapper, metric aggregation (see mos.evaluate)."""
