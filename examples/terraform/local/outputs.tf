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
}
