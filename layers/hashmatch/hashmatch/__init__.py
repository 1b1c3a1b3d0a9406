"""hashmatch: a coalition of platforms catching re-uploads of harmful media by sharing hashes."""

__version__ = "0.1.0"
