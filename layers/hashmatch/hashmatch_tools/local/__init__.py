"""The whole system on one machine: moto server, resources from template.yaml, and queue pollers."""
