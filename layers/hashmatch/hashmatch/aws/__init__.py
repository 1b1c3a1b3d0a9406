"""AWS adapters (each takes an injected boto3 client) and the Lambda wiring."""
