# The boot script of each client VM, and the user_data EC2 gets for it. This
# file is byte-identical in examples/terraform/aws and
# examples/terraform/local (a test checks it), so the local twin renders
# exactly what an EC2 instance would boot with.

locals {
  # Read at plan time; "" means no script. A path that does not exist
  # fails the plan (upstream skips it silently). filebase64 keeps the
  # bytes exact, whatever they are, and the script embeds them base64.
  custom_startup_b64 = var.custom_startup_script_path == "" ? "" : filebase64(var.custom_startup_script_path)

  # The port allocator_url names: its own, else 443 for https and 80 for
  # http (as allocurl derives it); null when the URL does not parse, which
  # its validation refuses. Each module's VM resource checks that
  # allocator_port agrees, so a hand-written tfvars file cannot hand the
  # client a port its URL does not use.
  allocator_url_match = try(regex("^(?i)(https?)://(?:\\[[^]/]*\\]|[^/?#:@\\[]*)(?::([0-9]+))?(?:[/?#]|$)", var.allocator_url), null)
  allocator_url_port = (local.allocator_url_match == null ? null :
    local.allocator_url_match[1] != null ? tonumber(local.allocator_url_match[1]) :
  lower(local.allocator_url_match[0]) == "https" ? 443 : 80)

  # The script, rendered once: OpenTofu parses the template on every
  # templatefile call, which at 100 VMs was a third of a plan's time.
  user_data_template = templatefile("${path.module}/user_data.sh.tftpl", {
    allocator_ip                = var.allocator_ip
    allocator_url               = var.allocator_url
    allocator_port              = var.allocator_port
    image_name                  = var.image_name
    repository                  = var.repository
    resource_prefix             = var.resource_prefix
    subject_software            = var.subject_software
    gpu_support                 = var.gpu_support
    cloud_init_output_log_group = var.cloud_init_output_log_group
    startup_on_error            = var.startup_on_error
    startup_max_attempts        = var.startup_max_attempts
    startup_base_delay_seconds  = var.startup_base_delay_seconds
    startup_success_check_b64   = var.startup_success_check_b64
    custom_startup_b64          = local.custom_startup_b64
    agent_token                 = var.agent_token
    register_token              = var.register_token
  })

  # One script per VM: the VM's number, from 1, is part of its name. The
  # placeholder occurs once in the template's own text; every value in the
  # rendered script is base64, which has no "@".
  user_data = [for i in range(var.instance_count) : replace(local.user_data_template, "@LABLINK_VM_NUMBER@", tostring(i + 1))]

  # cloud-init runs a user_data script on the first boot only. The
  # cloud-config part replaces the final modules with scripts-user at
  # frequency "always", so a VM that is stopped and started runs the
  # script again (which then finds its container and leaves it be), as
  # upstream's module does. Gzip keeps the script under EC2's 16 KiB
  # user_data limit for longer; cloud-init unpacks it.
  mime_boundary = "==lablink-client-boundary=="
  user_data_base64 = [for script in local.user_data : base64gzip(join("\n", [
    "MIME-Version: 1.0",
    "Content-Type: multipart/mixed; boundary=\"${local.mime_boundary}\"",
    "",
    "--${local.mime_boundary}",
    "MIME-Version: 1.0",
    "Content-Type: text/cloud-config; charset=\"us-ascii\"",
    "",
    "#cloud-config",
    "cloud_final_modules:",
    "  - [scripts-user, always]",
    "",
    "--${local.mime_boundary}",
    "MIME-Version: 1.0",
    "Content-Type: text/x-shellscript; charset=\"us-ascii\"",
    "",
    script,
    "--${local.mime_boundary}--",
    "",
  ]))]
}
