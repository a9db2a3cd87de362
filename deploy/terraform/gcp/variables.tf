variable "project" {
  type        = string
  description = "GCP project id"
}

variable "region" {
  type        = string
  default     = "europe-west4"
  description = "region of the bucket, the database and the cluster (residency)"
}

variable "name" {
  type        = string
  default     = "labstream"
  description = "prefix of every resource"
}

variable "gpu_type" {
  type        = string
  default     = "nvidia-l4"
  description = "accelerator of the GPU node pool"
}

variable "gpu_nodes_max" {
  type        = number
  default     = 4
  description = "autoscaling ceiling of the GPU pool (it scales to zero when idle)"
}

variable "raw_to_coldline_days" {
  type        = number
  default     = 30
  description = "age after which raw instrument objects move to Coldline"
}

variable "master_authorized_cidr" {
  type        = string
  description = "the lab's network allowed to reach the Kubernetes API"
}

variable "groups_domain" {
  type        = string
  description = "the Google Workspace domain whose gke-security-groups@ group grants Kubernetes RBAC"
}
