# Objects and the lake in one regional bucket, encrypted with a customer-managed key.
resource "google_kms_key_ring" "lab" {
  name     = var.name
  location = var.region
}

resource "google_kms_crypto_key" "objects" {
  name            = "${var.name}-objects"
  key_ring        = google_kms_key_ring.lab.id
  rotation_period = "7776000s" # 90 days
  lifecycle {
    prevent_destroy = true
  }
}

data "google_storage_project_service_account" "gcs" {}

resource "google_kms_crypto_key_iam_member" "gcs" {
  crypto_key_id = google_kms_crypto_key.objects.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

resource "google_storage_bucket" "lab" {
  name                        = "${var.project}-${var.name}"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = google_kms_crypto_key.objects.id
  }

  logging {
    log_bucket = google_storage_bucket.logs.name
  }

  # raw instrument files: Coldline after N days; the lake's noncurrent versions: deleted after 30 days
  lifecycle_rule {
    condition {
      age            = var.raw_to_coldline_days
      matches_prefix = ["objects/"]
    }
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
  }
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.gcs]
}

resource "google_storage_bucket" "logs" {
  #checkov:skip=CKV_GCP_62:this is the access-log bucket itself; logging it into itself would loop
  name                        = "${var.project}-${var.name}-logs"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
  encryption {
    default_kms_key_name = google_kms_crypto_key.objects.id
  }
  depends_on = [google_kms_crypto_key_iam_member.gcs]
}
