"""Training: the one training loop (`loop`, `python -m mos train`) and its parts — the recipe of a
spec's `train` section (`settings`: settings, schedule, optimizer), one optimizer step (`step`, also
called by the GPU check), a run's resumable state (`state`), the loop's extension points (`hooks`),
the weight average (`averaging`) —, pretraining θ0 with that loop (`pretrain`), perplexities of a model
over the probe pool (`base_ppl`: θ0 for DIFF, and the tuned models of the perplexity study), and the
paper grid's memory model (`memory`, `python -m mos memory`). May import `mos.mixing`, `mos.models`,
`mos.data` and `mos.common`."""
