"""Sites: several places work can run (edge next to the instrument, cloud regions), placement of each
task on a site and compute class by residency, locality, resources and cost, replication of what an
edge's policy lets through to the cloud, and federated training across sites."""

from labstream.sites.errors import PlacementRefused
from labstream.sites.model import ComputeClass, Site, class_hour_cost, load_sites, sites_from_mapping
from labstream.sites.placement import Placement, TaskNeeds, place, record_placement
from labstream.sites.runtime import SitePlacer

__all__ = [
    "ComputeClass",
    "Placement",
    "PlacementRefused",
    "Site",
    "SitePlacer",
    "TaskNeeds",
    "class_hour_cost",
    "load_sites",
    "place",
    "record_placement",
    "sites_from_mapping",
]
