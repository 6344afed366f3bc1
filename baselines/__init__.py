"""Mixing strategies, one per file. `mos.registry` imports every module here and registers each
`MixingStrategy` subclass by its `name`; nothing else needs to change to add one.

    python -m mos.registry     # list them
"""
