output "user_data" {
  description = "Rendered boot script of each client VM, in count order."
  value       = [for vm in terraform_data.lablink_vm : vm.output.user_data]
  sensitive   = true
}

output "user_data_base64" {
  description = "user_data of each client VM as EC2 would get it (base64 of a gzipped cloud-init MIME document), in count order."
  value       = [for vm in terraform_data.lablink_vm : vm.output.user_data_base64]
  sensitive   = true
}

output "vm_count" {
  description = "Number of client VMs."
  value       = length(terraform_data.lablink_vm)

  # Checked here, once per plan (a resource's precondition would report
  # once per VM).
  precondition {
    condition     = local.allocator_url_port == null || var.allocator_port == local.allocator_url_port
    error_message = "allocator_port is ${var.allocator_port}, which is not the port of allocator_url (its own port, else 443 for https and 80 for http)."
  }

  precondition {
    condition     = var.inventory_dir == "" || var.launch_id != ""
    error_message = "inventory_dir needs a launch_id: each VM's inventory id is derived from the launch that creates it."
  }
}
