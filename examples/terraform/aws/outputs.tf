output "instance_ids" {
  description = "EC2 instance IDs of the client VMs, in count order."
  value       = aws_instance.lablink_vm[*].id
}

output "public_ips" {
  description = "Public IP addresses of the client VMs, in count order."
  value       = aws_instance.lablink_vm[*].public_ip
}

output "private_ips" {
  description = "Private IP addresses of the client VMs, in count order."
  value       = aws_instance.lablink_vm[*].private_ip
}

output "vm_count" {
  description = "Number of client VMs."
  value       = length(aws_instance.lablink_vm)

  # Checked here, once per plan (a resource's precondition would report
  # once per VM).
  precondition {
    condition     = local.allocator_url_port == null || var.allocator_port == local.allocator_url_port
    error_message = "allocator_port is ${var.allocator_port}, which is not the port of allocator_url (its own port, else 443 for https and 80 for http)."
  }
}

output "private_key_pem" {
  description = "SSH private key of the client VMs, PEM encoded."
  value       = tls_private_key.lablink_client.private_key_pem
  sensitive   = true
}

output "vm_names" {
  description = "Names of the client VMs ({resource_prefix}-vm-{i}), in count order; each registers with the allocator under its name."
  value       = aws_instance.lablink_vm[*].tags.Name
}
