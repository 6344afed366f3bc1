"""Evaluation helpers: MMLU dev parsing, lm-eval task configs, metric aggregation (see mos.evaluate)."""
