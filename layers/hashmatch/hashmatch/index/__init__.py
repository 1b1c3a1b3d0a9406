"""Near-match indexes: the Hamming index, the matcher's mirror of the bank, and their snapshots."""
