# The shape of upstream's client-module variables: talmolab/lablink
# 852e4918 (2026-08-18),
# packages/allocator/src/lablink_allocator_service/terraform/variables.tf.
# Names, types, sensitive flags and defaults are upstream's, in upstream's
# order; a variable without a default is required there. The descriptions
# are ours. TestUpstreamContract compares our variables.tf with this file
# and lists every deliberate difference.

variable "instance_count" {
  description = "How many client VMs to run."
  type        = number
  default     = 1
}

variable "allocator_ip" {
  description = "Address of the allocator host."
  type        = string
  sensitive   = true
}

variable "allocator_url" {
  description = "Allocator base URL, scheme included."
  type        = string
  sensitive   = true
}

variable "machine_type" {
  description = "EC2 instance type of the VMs."
  type        = string
  default     = "t2.medium"
}

variable "image_name" {
  description = "Client container image."
  type        = string
}

variable "repository" {
  description = "Tutorial data repository the client clones."
  type        = string
}

variable "client_ami_id" {
  description = "AMI the VMs boot."
  type        = string
}

variable "resource_prefix" {
  description = "Prefix of every resource name, {software}-lablink-client-{environment}."
  type        = string
  default     = "lablink-client-prod"
}

variable "subject_software" {
  description = "Software the VM serves."
  type        = string
  default     = "sleap"
}

variable "gpu_support" {
  description = "Whether the instance type has a GPU."
  type        = bool
}

variable "cloud_init_output_log_group" {
  description = "Where the VM's boot log is shipped."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-west-2"
}

variable "ssh_user" {
  description = "Login user on the VMs."
  type        = string
  default     = "ubuntu"
}

variable "retry_number" {
  description = "Retries when fetching the boot log."
  type        = number
  default     = 5
}

variable "startup_on_error" {
  description = "Whether a failing custom startup script stops the client."
  type        = string
  default     = "continue"
}

variable "startup_max_attempts" {
  description = "Attempts of the custom startup script."
  type        = number
  default     = 3
}

variable "startup_base_delay_seconds" {
  description = "Base of the backoff between attempts, in seconds."
  type        = number
  default     = 30
}

variable "startup_success_check_b64" {
  description = "Base64 of an optional command that confirms the startup script worked."
  type        = string
  default     = ""
}

variable "custom_startup_script_path" {
  description = "Custom startup script, read when planning; skipped when the file is missing."
  type        = string
  default     = "/config/custom-startup.sh"
}

variable "agent_token" {
  description = "Token for the client agent's session endpoint."
  type        = string
  sensitive   = true
  default     = ""
}

variable "register_token" {
  description = "Bearer token of the registration endpoint."
  type        = string
  sensitive   = true
  default     = ""
}

variable "allocator_sg_id" {
  description = "Allocator security group, the only source allowed on 6080 and 7070."
  type        = string
}
