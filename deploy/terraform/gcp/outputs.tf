output "objects_url" {
  value       = "gs://${google_storage_bucket.lab.name}/objects"
  description = "objects.url of the chart (LABSTREAM_OBJECTS_URL; gs:// needs labstream[gcs])"
}

output "lake_url" {
  value       = "gs://${google_storage_bucket.lab.name}/lake"
  description = "objects.lakeUrl of the chart"
}

output "catalog_private_ip" {
  value       = google_sql_database_instance.catalog.private_ip_address
  description = "host of the catalog URL stored in the chart's catalog Secret"
}

output "workload_identity_annotation" {
  value       = { "iam.gke.io/gcp-service-account" = google_service_account.labstream.email }
  description = "serviceAccount.annotations of the chart"
}
