# Inputs of the LabLink client-VM module. This file is byte-identical in
# examples/terraform/aws and examples/terraform/local (a test checks it), so
# the provider-free local twin accepts exactly the tfvars the AWS module does.
#
# Every string that reaches the boot script is validated here as defense in
# depth: the script already receives values base64-encoded and never lets the
# shell parse them, and the Go side validates the config before rendering.

variable "allocator_ip" {
  description = "Public IP address of the allocator. The client container reports to it."
  type        = string
  nullable    = false
  sensitive   = true

  validation {
    condition     = can(regex("^[^\"'\\\\$`\\s\\p{Cc}\\p{Cf}\\p{Z}]+$", var.allocator_ip))
    error_message = "allocator_ip must be non-empty and contain no quotes, backslashes, $, backticks, whitespace or control characters."
  }
}

variable "allocator_url" {
  description = "Base URL of the allocator, scheme included (for example https://lablink.example.com)."
  type        = string
  nullable    = false
  sensitive   = true

  validation {
    condition     = can(regex("^[^\"'\\\\$`\\s\\p{Cc}\\p{Cf}\\p{Z}]+$", var.allocator_url))
    error_message = "allocator_url must be non-empty and contain no quotes, backslashes, $, backticks, whitespace or control characters."
  }

  validation {
    condition     = can(regex("^https?://", var.allocator_url))
    error_message = "allocator_url must start with http:// or https://."
  }
}

variable "allocator_port" {
  description = "TCP port of the allocator URL: the explicit port, else 443 for https and 80 for http."
  type        = number
  nullable    = false
  default     = 443

  validation {
    condition     = var.allocator_port == floor(var.allocator_port) && var.allocator_port >= 1 && var.allocator_port <= 65535
    error_message = "allocator_port must be a whole number from 1 to 65535."
  }
}

variable "machine_type" {
  description = "EC2 instance type of each client VM."
  type        = string
  nullable    = false
  default     = "g4dn.xlarge"

  validation {
    condition     = can(regex("^[^\"'\\\\$`\\s\\p{Cc}\\p{Cf}\\p{Z}]+$", var.machine_type))
    error_message = "machine_type must be non-empty and contain no quotes, backslashes, $, backticks, whitespace or control characters."
  }
}

variable "image_name" {
  description = "Container image the client VM runs."
  type        = string
  nullable    = false
  default     = "ghcr.io/talmolab/lablink-client-base-image:latest"

  validation {
    condition     = can(regex("^[a-z0-9][^\"'\\\\$`\\s\\p{Cc}\\p{Cf}\\p{Z}]*$", var.image_name))
    error_message = "image_name must start with a lowercase letter or digit and contain no quotes, backslashes, $, backticks, whitespace or control characters."
  }
}

variable "repository" {
  description = "Git repository the client clones for the subject software; \"\" for none."
  type        = string
  nullable    = false
  default     = ""

  validation {
    condition     = var.repository == "" || can(regex("^[^\"'\\\\$`\\s\\p{Cc}\\p{Cf}\\p{Z}]+$", var.repository))
    error_message = "repository must be \"\" or contain no quotes, backslashes, $, backticks, whitespace or control characters."
  }
}

variable "client_ami_id" {
  description = "AMI of the client VMs. Changing it replaces the VMs."
  type        = string
  nullable    = false
  default     = "ami-00c257e12d6828491"

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.client_ami_id))
    error_message = "client_ami_id must look like ami-0123456789abcdef0."
  }
}

variable "subject_software" {
  description = "Name of the software the client VM serves."
  type        = string
  nullable    = false
  default     = "sleap"

  validation {
    condition     = can(regex("^[^\"'\\\\$`\\s\\p{Cc}\\p{Cf}\\p{Z}]+$", var.subject_software))
    error_message = "subject_software must be non-empty and contain no quotes, backslashes, $, backticks, whitespace or control characters."
  }
}

variable "resource_suffix" {
  description = "Environment name appended to resource names and tags (prod, test, ...)."
  type        = string
  nullable    = false
  default     = "prod"

  validation {
    condition     = can(regex("^[^\"'\\\\$`\\s\\p{Cc}\\p{Cf}\\p{Z}]+$", var.resource_suffix))
    error_message = "resource_suffix must be non-empty and contain no quotes, backslashes, $, backticks, whitespace or control characters."
  }
}

variable "gpu_support" {
  description = "Whether machine_type has an NVIDIA GPU. No default on purpose: a forgotten value must fail instead of silently booting a GPU machine in CPU mode."
  type        = bool
  nullable    = false
}

variable "cloud_init_output_log_group" {
  description = "CloudWatch Logs group that receives /var/log/cloud-init-output.log; \"\" disables shipping."
  type        = string
  nullable    = false
  default     = ""

  validation {
    condition     = var.cloud_init_output_log_group == "" || can(regex("^[^\"'\\\\$`\\s\\p{Cc}\\p{Cf}\\p{Z}]+$", var.cloud_init_output_log_group))
    error_message = "cloud_init_output_log_group must be \"\" or contain no quotes, backslashes, $, backticks, whitespace or control characters."
  }
}

variable "region" {
  description = "AWS region of the client VMs."
  type        = string
  nullable    = false
  default     = "us-west-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be an AWS region name such as us-west-2."
  }
}

variable "startup_on_error" {
  description = "What the client does when its startup script fails: continue or fail."
  type        = string
  nullable    = false
  default     = "continue"

  validation {
    condition     = contains(["continue", "fail"], var.startup_on_error)
    error_message = "startup_on_error must be \"continue\" or \"fail\"."
  }
}

variable "startup_max_attempts" {
  description = "How many times the client tries its startup script."
  type        = number
  nullable    = false
  default     = 3

  validation {
    condition     = var.startup_max_attempts == floor(var.startup_max_attempts) && var.startup_max_attempts >= 1
    error_message = "startup_max_attempts must be a whole number >= 1."
  }
}

variable "startup_base_delay_seconds" {
  description = "Base delay in seconds between startup script attempts."
  type        = number
  nullable    = false
  default     = 30

  validation {
    condition     = var.startup_base_delay_seconds == floor(var.startup_base_delay_seconds) && var.startup_base_delay_seconds >= 0
    error_message = "startup_base_delay_seconds must be a whole number >= 0."
  }
}

variable "startup_success_check_b64" {
  description = "Base64 of the command that tells whether the startup script succeeded; \"\" for none."
  type        = string
  nullable    = false
  default     = ""

  validation {
    condition     = length(var.startup_success_check_b64) % 4 == 0 && can(regex("^[A-Za-z0-9+/]*={0,2}$", var.startup_success_check_b64))
    error_message = "startup_success_check_b64 must be \"\" or standard padded base64."
  }
}

variable "instance_count" {
  description = "Total number of client VMs: those requested plus those already running. No default: it is always passed explicitly."
  type        = number
  nullable    = false

  validation {
    condition     = var.instance_count == floor(var.instance_count) && var.instance_count >= 0
    error_message = "instance_count must be a whole number >= 0."
  }
}
