"""Mixing strategies, one per file. `mos.mixing.registry` imports every module here and registers each
`MixingStrategy` subclass by its `name`; nothing else needs to change to add one.

    python -m mos strategies     # list them
"""
