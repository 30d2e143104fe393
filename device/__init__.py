"""irbis: the firmware of a wildlife camera trap."""

__version__ = "0.1.0"
