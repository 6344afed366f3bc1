"""How datasets are mixed: the one strategy contract (`strategy`), the registry that finds
strategies in `baselines/` and entry points (`registry`), the learned scorer ψ (`scorer`) and what
the learned strategies share (`scored`), reward functions (`rewards`), the read-only window a
dynamic strategy gets on training (`probe`), and weighted sampling (`sampler`). May import
`mos.models`, `mos.data` and `mos.common`; knows nothing of the training loop (the loop builds the
probe and hands it to the strategy)."""
