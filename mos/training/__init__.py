"""Training: the tiny backbones of the paper's three architecture families and model loading
(`backbones`), the one training loop (`loop`, `python -m mos train`), pretraining θ0 with that loop
(`pretrain`), and perplexities of a model over the probe pool (`base_ppl`: θ0 for DIFF, and the
tuned models of the perplexity study). May import `mos.mixing`, `mos.data` and `mos.common`."""
