"""AWS adapters: each takes an injected boto3 client or resource and builds one only when none is given."""
