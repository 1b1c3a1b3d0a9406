"""The edge: where media is. Fetching dropped objects, hashing them in a sandbox, parsing members' hash
lists, and handing the coalition hashes only (`hashmatch.service.submission`)."""
