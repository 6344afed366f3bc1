"""The embedded skills testbed: four generated skill datasets sized like the paper's Table 1,
held-out evaluation sets and a generic pretraining corpus (`python -m mos testbed --help`)."""
