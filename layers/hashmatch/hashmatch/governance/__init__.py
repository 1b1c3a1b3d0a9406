"""Governance: what the coalition may share (the taxonomy) and what may enter the bank."""

from hashmatch.governance.taxonomy import Label, Taxonomy, TaxonomyError, taxonomy

__all__ = ["Label", "Taxonomy", "TaxonomyError", "taxonomy"]
