"""QuantumState: an SRE war room in the terminal."""

__version__ = "0.1.0"
