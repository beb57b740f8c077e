# Provider-free twin of ../aws: the same variables and the same boot script
# (user_data.tf), with terraform_data standing in for each client VM, so
# OpenTofu can plan and apply it offline in tests and dry runs.

terraform {
  required_version = ">= 1.6.0"
}

# One per client VM. input holds what the VM would boot with: the rendered
# script, and the gzipped cloud-init MIME document EC2 would get.
resource "terraform_data" "lablink_vm" {
  count = var.instance_count

  input = {
    user_data        = local.user_data[count.index]
    user_data_base64 = local.user_data_base64[count.index]
  }

  # On AWS a new AMI replaces the instance; mirror that here.
  triggers_replace = var.client_ami_id

  lifecycle {
    # As on AWS: a changed config applies to VMs created from now on and
    # leaves running VMs alone.
    ignore_changes = [input]
  }
}
