"""hashmatch's tools: the `hashmatch` command, the member client, the local stack and demo, the
edit generators and sample media, and in-memory fakes of the ports for tests and benchmarks.

Installed with the package (`pip install -e .`), never copied into the Lambda layer, which holds
only `hashmatch` (what the functions run).
"""
