# Inputs of the LabLink client-VM module. This file is byte-identical in
# examples/terraform/aws and examples/terraform/local (a test checks it), so
# the provider-free local twin accepts exactly the tfvars the AWS module does.
# The names and types follow upstream's client module (talmolab/lablink,
# packages/allocator/src/lablink_allocator_service/terraform/variables.tf);
# where a default or a required variable differs, it is on purpose, and
# module_test.go lists each difference with its reason.
#
# Every string that reaches the boot script is validated here as defense in
# depth: the script already receives values base64-encoded and never lets the
# shell parse them, and the Go side validates the config before rendering.

variable "instance_count" {
  description = "Total number of client VMs: those requested plus those already running. No default: it is always passed explicitly."
  type        = number
  nullable    = false

  validation {
    condition     = var.instance_count == floor(var.instance_count) && var.instance_count >= 0
    error_message = "instance_count must be a whole number >= 0."
  }
}

variable "allocator_ip" {
  description = "Public IP address of the allocator. The client container reports to it (ALLOCATOR_HOST)."
  type        = string
  nullable    = false
  sensitive   = true

  validation {
    condition     = can(regex("^[^\"'\\\\$`\\s\\p{Cc}\\p{Cf}\\p{Z}]+$", var.allocator_ip))
    error_message = "allocator_ip must be non-empty and contain no quotes, backslashes, $, backticks, whitespace or control characters."
  }
}

variable "allocator_url" {
  description = "Base URL of the allocator, scheme included (for example https://lablink.example.com). The VM registers at <allocator_url>/api/v1/clients/register."
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
  description = "Port of allocator_url: the URL's own port, else 443 for https and 80 for http. The client container gets it as ALLOCATOR_PORT. The default is the port of the default config (https); a value that disagrees with allocator_url fails the plan."
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
  description = "Git repository the client clones for the tutorial (TUTORIAL_REPO_TO_CLONE); \"\" for none."
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

variable "resource_prefix" {
  description = "Start of every resource name: {software}-lablink-client-{environment}. VM number i (from 1) is named and registers as {resource_prefix}-vm-{i}."
  type        = string
  nullable    = false
  default     = "sleap-lablink-client-prod"

  # The VM name is the hostname the VM registers with, which the allocator
  # accepts only in this shape.
  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", var.resource_prefix))
    error_message = "resource_prefix must be 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit."
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

variable "ssh_user" {
  description = "Login user of the client AMI. Accepted for compatibility with upstream's module contract; this module does not use it."
  type        = string
  nullable    = false
  default     = "ubuntu"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.ssh_user))
    error_message = "ssh_user must be a Linux user name: a lowercase letter or _, then up to 31 lowercase letters, digits, _ or -."
  }
}

variable "retry_number" {
  description = "Retry count for reading the boot log. Accepted for compatibility with upstream's module contract; this module does not use it."
  type        = number
  nullable    = false
  default     = 5

  validation {
    condition     = var.retry_number == floor(var.retry_number) && var.retry_number >= 0
    error_message = "retry_number must be a whole number >= 0."
  }
}

variable "startup_on_error" {
  description = "What the client does when its custom startup script fails: continue or fail."
  type        = string
  nullable    = false
  default     = "continue"

  validation {
    condition     = contains(["continue", "fail"], var.startup_on_error)
    error_message = "startup_on_error must be \"continue\" or \"fail\"."
  }
}

variable "startup_max_attempts" {
  description = "How many times the client tries its custom startup script."
  type        = number
  nullable    = false
  default     = 3

  validation {
    condition     = var.startup_max_attempts == floor(var.startup_max_attempts) && var.startup_max_attempts >= 1
    error_message = "startup_max_attempts must be a whole number >= 1."
  }
}

variable "startup_base_delay_seconds" {
  description = "Base delay in seconds between attempts of the custom startup script."
  type        = number
  nullable    = false
  default     = 30

  validation {
    condition     = var.startup_base_delay_seconds == floor(var.startup_base_delay_seconds) && var.startup_base_delay_seconds >= 0
    error_message = "startup_base_delay_seconds must be a whole number >= 0."
  }
}

variable "startup_success_check_b64" {
  description = "Base64 of the command that tells whether the custom startup script succeeded; \"\" for none."
  type        = string
  nullable    = false
  default     = ""

  validation {
    condition     = length(var.startup_success_check_b64) % 4 == 0 && can(regex("^[A-Za-z0-9+/]*={0,2}$", var.startup_success_check_b64))
    error_message = "startup_success_check_b64 must be \"\" or standard padded base64."
  }
}

variable "custom_startup_script_path" {
  description = "File on the machine running OpenTofu whose bytes become the client's custom startup script, read at plan time; a relative path is relative to the directory OpenTofu runs in. \"\" means no script."
  type        = string
  nullable    = false
  default     = ""

  # Upstream skips a path that does not exist, so a typo boots every VM
  # without its script and nobody notices; here it fails the plan.
  validation {
    condition     = var.custom_startup_script_path == "" || try(fileexists(var.custom_startup_script_path), false)
    error_message = "custom_startup_script_path must be \"\" or name an existing regular file."
  }
}

variable "agent_token" {
  description = "Token the allocator presents to the client agent (AGENT_TOKEN). Required: upstream's default of \"\" is refused here."
  type        = string
  nullable    = false
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{16,}$", var.agent_token))
    error_message = "agent_token must be at least 16 URL-safe characters (letters, digits, _ and -)."
  }
}

variable "register_token" {
  description = "Bearer token the VM presents to POST /api/v1/clients/register. Required: upstream defaults it to \"\", which the allocator rejects at registration."
  type        = string
  nullable    = false
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{16,}$", var.register_token))
    error_message = "register_token must be at least 16 URL-safe characters (letters, digits, _ and -)."
  }
}

variable "allocator_sg_id" {
  description = "Security group of the allocator instance: the only source allowed to reach the VMs' KasmVNC (6080) and client agent (7070) ports."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^sg-[0-9a-f]{8,17}$", var.allocator_sg_id))
    error_message = "allocator_sg_id must look like sg-0123456789abcdef0."
  }
}

variable "launch_id" {
  description = "Id of the launch applying the module (the audit record's launch id); \"\" for none. Each VM records the launch that created it (the aws module's lablink:launch-id tag, the local module's input) and keeps it: a later apply with another launch_id leaves running VMs alone."
  type        = string
  nullable    = false
  default     = ""

  validation {
    condition     = var.launch_id == "" || can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", var.launch_id))
    error_message = "launch_id must be \"\" or 1 to 128 letters, digits, dots, dashes or underscores, starting with a letter or digit."
  }
}

variable "inventory_dir" {
  description = "Local module only: directory in which each VM's creation writes one JSON file, the simulated cloud's inventory (package inventory reads it); \"\" writes nothing. A relative path is relative to the directory OpenTofu runs in. The aws module accepts and ignores it: EC2 is its inventory."
  type        = string
  nullable    = false
  default     = ""

  validation {
    condition     = var.inventory_dir == "" || can(regex("^[^\\p{Cc}]+$", var.inventory_dir))
    error_message = "inventory_dir must be \"\" or a path without control characters."
  }
}
