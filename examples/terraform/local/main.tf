# Provider-free twin of ../aws: the same variables and the same boot script
# (user_data.tf), with terraform_data standing in for each client VM, so
# OpenTofu can plan and apply it offline in tests and dry runs.
#
# With inventory_dir set it also simulates the cloud's inventory: each VM's
# creation writes <inventory_dir>/<id>.json, and its destruction removes
# it. The file appears before OpenTofu records the VM in its state, as an
# EC2 instance exists before its state entry, so an apply killed in
# between leaves a VM the state does not know: what package inventory's
# Dir lists and Orphans reports.

terraform {
  required_version = ">= 1.6.0"
}

locals {
  # The inventory id of VM i (from 0): a UUID derived from the deployment,
  # the launch that creates the VM and its index. It is known at plan
  # time, so the create provisioner below can name the file without
  # referring to self: a create-time provisioner that reads self makes
  # OpenTofu rebuild every instance of the resource for each VM, which at
  # 500 VMs turned a 7-second apply into minutes.
  inventory_ids = [for i in range(var.instance_count) : uuidv5("url", "urn:lablink:${var.resource_prefix}:${var.launch_id}:${i}")]

  # Writes the record into the inventory: create-only (ln fails when the
  # file exists, so a VM is never overwritten by another of the same id),
  # and whole (written aside, then linked into place). Every value comes
  # from the environment; none is ever part of the command.
  inventory_write = <<-EOT
    set -eu
    dir=$LABLINK_INVENTORY_DIR
    file=$dir/$LABLINK_INVENTORY_ID.json
    tmp=$dir/.$LABLINK_INVENTORY_ID.json.tmp
    mkdir -p -- "$dir"
    printf '%s\n' "$LABLINK_INVENTORY_RECORD" >"$tmp"
    if ! ln -- "$tmp" "$file"; then
      rm -f -- "$tmp"
      printf 'lablink: inventory: %s exists already\n' "$file" >&2
      exit 1
    fi
    rm -f -- "$tmp"
  EOT
}

# One per client VM. input holds what the VM would boot with (the rendered
# script, and the gzipped cloud-init MIME document EC2 would get) and what
# it was created by (launch_id), which it keeps: a later launch_id, like
# any changed config, applies to VMs created from then on.
resource "terraform_data" "lablink_vm" {
  count = var.instance_count

  input = {
    user_data        = local.user_data[count.index]
    user_data_base64 = local.user_data_base64[count.index]
    name             = "${var.resource_prefix}-vm-${count.index + 1}"
    launch_id        = var.launch_id
    inventory_dir    = var.inventory_dir
    inventory_id     = local.inventory_ids[count.index]
  }

  # On AWS a new AMI replaces the instance; mirror that here.
  triggers_replace = var.client_ami_id

  # The simulated cloud creates the VM. Without inventory_dir it does
  # nothing (a provisioner cannot be left out by a condition).
  provisioner "local-exec" {
    command = var.inventory_dir == "" ? "exit 0" : local.inventory_write
    environment = {
      LABLINK_INVENTORY_DIR = var.inventory_dir
      LABLINK_INVENTORY_ID  = local.inventory_ids[count.index]
      LABLINK_INVENTORY_RECORD = jsonencode({
        id         = local.inventory_ids[count.index]
        name       = "${var.resource_prefix}-vm-${count.index + 1}"
        index      = count.index
        launch_id  = var.launch_id
        deployment = var.resource_prefix
      })
    }
  }

  # The simulated cloud terminates the VM: its record goes, wherever the
  # VM was created (input keeps the directory of its creation). A VM
  # created before the module kept an inventory has none.
  provisioner "local-exec" {
    when    = destroy
    command = try(self.input.inventory_dir, "") == "" ? "exit 0" : "rm -f -- \"$LABLINK_INVENTORY_DIR/$LABLINK_INVENTORY_ID.json\""
    environment = {
      LABLINK_INVENTORY_DIR = try(self.input.inventory_dir, "")
      LABLINK_INVENTORY_ID  = try(self.input.inventory_id, "")
    }
  }

  lifecycle {
    # As on AWS: a changed config applies to VMs created from now on and
    # leaves running VMs alone.
    ignore_changes = [input]
  }
}
