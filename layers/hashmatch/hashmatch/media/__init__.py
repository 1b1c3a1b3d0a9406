"""Media in, hashes out: decoding untrusted files, framings of pictures, video frames (the edge side)."""
