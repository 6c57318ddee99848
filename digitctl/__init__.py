"""digitctl: eGov DIGIT's building blocks for a counter PC and an admin terminal."""

__version__ = "0.1.0"
