# GKE: private nodes, Dataplane V2 (enforces the chart's NetworkPolicies), Workload Identity (pods reach
# the bucket without keys), a general pool and a GPU pool that scales to zero, tainted for GPU pods only.
resource "google_service_account" "nodes" {
  account_id   = "${var.name}-nodes"
  display_name = "labstream GKE nodes (least privilege)"
}

resource "google_container_cluster" "lab" {
  #checkov:skip=CKV_GCP_12:Dataplane V2 (ADVANCED_DATAPATH) enforces NetworkPolicies itself; the legacy network_policy addon cannot be combined with it
  name                     = var.name
  location                 = var.region
  network                  = google_compute_network.lab.id
  subnetwork               = google_compute_subnetwork.lab.id
  remove_default_node_pool = true
  initial_node_count       = 1
  deletion_protection      = true
  datapath_provider        = "ADVANCED_DATAPATH"
  enable_shielded_nodes    = true
  enable_intranode_visibility = true
  release_channel {
    channel = "REGULAR"
  }

  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = "172.16.0.0/28"
  }

  master_authorized_networks_config {
    cidr_blocks {
      cidr_block   = var.master_authorized_cidr
      display_name = "lab"
    }
  }

  workload_identity_config {
    workload_pool = "${var.project}.svc.id.goog"
  }

  database_encryption {
    state    = "ENCRYPTED"
    key_name = google_kms_crypto_key.objects.id
  }

  master_auth {
    client_certificate_config {
      issue_client_certificate = false
    }
  }

  binary_authorization {
    evaluation_mode = "PROJECT_SINGLETON_POLICY_ENFORCE"
  }

  resource_labels = {
    app = var.name
  }

  authenticator_groups_config {
    security_group = "gke-security-groups@${var.groups_domain}"
  }

  node_config {
    service_account = google_service_account.nodes.email
    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
}

resource "google_container_node_pool" "general" {
  name     = "general"
  cluster  = google_container_cluster.lab.id
  location = var.region
  autoscaling {
    min_node_count = 1
    max_node_count = 10
  }
  management {
    auto_repair  = true
    auto_upgrade = true
  }
  node_config {
    machine_type    = "n2-standard-8"
    image_type      = "COS_CONTAINERD"
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
    metadata = {
      disable-legacy-endpoints = "true"
    }
  }
}

resource "google_container_node_pool" "gpu" {
  name     = "gpu"
  cluster  = google_container_cluster.lab.id
  location = var.region
  autoscaling {
    min_node_count = 0
    max_node_count = var.gpu_nodes_max
  }
  management {
    auto_repair  = true
    auto_upgrade = true
  }
  node_config {
    machine_type    = "g2-standard-8"
    image_type      = "COS_CONTAINERD"
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    guest_accelerator {
      type  = var.gpu_type
      count = 1
      gpu_driver_installation_config {
        gpu_driver_version = "LATEST"
      }
    }
    # the chart's GPU worker group selects and tolerates exactly this
    labels = {
      "nvidia.com/gpu.present" = "true"
    }
    taint {
      key    = "nvidia.com/gpu"
      value  = "present"
      effect = "NO_SCHEDULE"
    }
    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
    metadata = {
      disable-legacy-endpoints = "true"
    }
  }
}

# Workload Identity: the chart's ServiceAccount (annotation iam.gke.io/gcp-service-account) acts as this
resource "google_service_account" "labstream" {
  account_id   = var.name
  display_name = "labstream pods (bucket access)"
}

resource "google_storage_bucket_iam_member" "labstream" {
  bucket = google_storage_bucket.lab.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.labstream.email}"
}

resource "google_service_account_iam_member" "workload_identity" {
  service_account_id = google_service_account.labstream.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project}.svc.id.goog[labstream/lab]"
}
