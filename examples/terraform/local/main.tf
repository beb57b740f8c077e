# Provider-free twin of ../aws: the same variables and the same boot script,
# with terraform_data standing in for each client VM, so OpenTofu can plan
# and apply it offline in tests and dry runs.

terraform {
  required_version = ">= 1.6.0"
}

locals {
  # Keep this call identical to the one in ../aws/main.tf.
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    allocator_ip                = var.allocator_ip
    allocator_url               = var.allocator_url
    allocator_port              = var.allocator_port
    machine_type                = var.machine_type
    image_name                  = var.image_name
    repository                  = var.repository
    client_ami_id               = var.client_ami_id
    subject_software            = var.subject_software
    resource_suffix             = var.resource_suffix
    gpu_support                 = var.gpu_support
    cloud_init_output_log_group = var.cloud_init_output_log_group
    region                      = var.region
    startup_on_error            = var.startup_on_error
    startup_max_attempts        = var.startup_max_attempts
    startup_base_delay_seconds  = var.startup_base_delay_seconds
    startup_success_check_b64   = var.startup_success_check_b64
  })
}

# One per client VM. input holds the user_data the VM would boot with.
resource "terraform_data" "lablink_vm" {
  count = var.instance_count

  input = local.user_data

  # On AWS a new AMI replaces the instance; mirror that here.
  triggers_replace = var.client_ami_id

  lifecycle {
    # As on AWS: user_data only runs at first boot, so a changed config
    # applies to VMs created from now on and leaves running VMs alone.
    ignore_changes = [input]
  }
}
