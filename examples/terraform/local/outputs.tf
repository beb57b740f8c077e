output "user_data" {
  description = "Rendered boot script of each client VM, in count order."
  value       = terraform_data.lablink_vm[*].output
  sensitive   = true
}

output "vm_count" {
  description = "Number of client VMs."
  value       = length(terraform_data.lablink_vm)
}
