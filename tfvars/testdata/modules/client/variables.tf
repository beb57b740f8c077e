# A client-VM module in the style of LabLink's, for examples and benchmarks.

variable "allocator_ip" {
  type      = string
  sensitive = true
}

variable "allocator_url" {
  type      = string
  sensitive = true
}

variable "allocator_port" {
  type    = number
  default = 80
}

variable "machine_type" {
  type    = string
  default = "t2.medium"
}

variable "image_name" {
  type    = string
  default = "ghcr.io/talmolab/lablink-client-base-image:latest"
}

variable "repository" {
  type    = string
  default = ""
}

variable "client_ami_id" {
  type    = string
  default = "ami-00c257e12d6828491"
}

variable "subject_software" {
  type    = string
  default = "sleap"
}

variable "resource_suffix" {
  type    = string
  default = "prod"
}

variable "gpu_support" {
  type    = bool
  default = true
}

variable "cloud_init_output_log_group" {
  type    = string
  default = ""
}

variable "region" {
  type     = string
  nullable = false
}

variable "startup_on_error" {
  type    = string
  default = "continue"
}

variable "startup_max_attempts" {
  type    = number
  default = 3
}

variable "startup_base_delay_seconds" {
  type    = number
  default = 30
}

variable "startup_success_check_b64" {
  type    = string
  default = ""
}

variable "instance_count" {
  type     = number
  nullable = false
}
