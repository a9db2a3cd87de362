resource "google_compute_network" "lab" {
  name                    = var.name
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "lab" {
  name                     = "${var.name}-nodes"
  network                  = google_compute_network.lab.id
  region                   = var.region
  ip_cidr_range            = "10.20.0.0/20"
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = "10.24.0.0/14"
  }
  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = "10.28.0.0/20"
  }

  log_config {
    aggregation_interval = "INTERVAL_5_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# only traffic inside the network; nothing from outside reaches a node (the API is reached through the
# load balancer the chart's ingress controller gets, health checks from Google's ranges)
resource "google_compute_firewall" "internal" {
  name      = "${var.name}-internal"
  network   = google_compute_network.lab.id
  direction = "INGRESS"
  priority  = 1000
  allow {
    protocol = "tcp"
  }
  allow {
    protocol = "udp"
  }
  source_ranges = ["10.20.0.0/20", "10.24.0.0/14", "172.16.0.0/28"]
  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Cloud SQL on a private address inside the network (no public IP)
resource "google_compute_global_address" "sql" {
  name          = "${var.name}-sql"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 20
  network       = google_compute_network.lab.id
}

resource "google_service_networking_connection" "sql" {
  network                 = google_compute_network.lab.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.sql.name]
}
