"""The hash bank's domain model and the hash-list formats members share with."""
