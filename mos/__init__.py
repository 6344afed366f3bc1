"""The Mixture-of-Skills replication suite's library: data, mixing strategies, training, evaluation
and the pipeline glue that the Snakemake workflow calls (`python -m mos` lists the commands).

Wings, each a sub-package; an arrow is "may import", and arrows only point down:

    pipeline     config validation, the grid and paths, job specs, aggregation, descriptive stats
      ↓
    evaluation   the benchmarks (a registry, one file each), lm-eval, generation, judges, metrics
      ↓
    training     the one training loop, pretraining θ0, base perplexities, backbones
      ↓
    mixing       the strategy contract, registry, scorer, rewards, probe, sampler
      ↓
    data         records, hub adapters, the testbed, tokenizers, chat templates, tokenization, packing
      ↓
    common       atomic files, job specs on the command line, provenance, PyPI wheels

A wing may import any wing below it, never one above (tests/test_layout.py checks it). `baselines/`
(one strategy per file) imports `mos.mixing`; `analysis/` reads only `results/` and imports
`mos.common`.
"""
