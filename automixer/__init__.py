"""AutoMixer: choose the data mixture of a pre-training run with small proxy experiments.

Kept free of eager imports on purpose: subpackages import what they need.
"""

__version__ = "0.1.0"
