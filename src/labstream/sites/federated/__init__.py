"""Federated learning across sites with Flower's deployment engine: each site trains on its own lake
table; only model arrays and counts cross the sites' boundaries."""

from labstream.sites.federated.data import read_site_table, write_site_table
from labstream.sites.federated.deploy import FederatedSite, FederationResult, run_federation

__all__ = ["FederatedSite", "FederationResult", "read_site_table", "run_federation", "write_site_table"]
