"""Floors: the same work without the product's layers, measured in the same run."""
