# Client VMs of one LabLink deployment. The allocator applies this module
# with a generated terraform.runtime.tfvars holding every variable,
# instance_count included: N counts the VMs already running plus the new
# ones, so growing the count only adds VMs. (Upstream passes instance_count
# as -var; writing it into the file lets the audited copy alone reproduce
# the apply.) The boot script and the user_data built from it are in
# user_data.tf, shared with ../local.

locals {
  # CIDR blocks allowed to reach the VMs over SSH. Empty by default: the
  # clients reach out to the allocator, and SSH is for debugging.
  ssh_ingress_cidrs = []
}

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

resource "aws_security_group" "lablink_client" {
  name_prefix = "${var.resource_prefix}-"
  description = "LabLink client VMs: KasmVNC and agent from the allocator only, SSH when enabled"

  dynamic "ingress" {
    for_each = length(local.ssh_ingress_cidrs) > 0 ? [1] : []
    content {
      description = "SSH"
      from_port   = 22
      to_port     = 22
      protocol    = "tcp"
      cidr_blocks = local.ssh_ingress_cidrs
    }
  }

  # The allocator reaches each VM at its private address: the browser
  # session through KasmVNC, session control through the client agent.
  # Nothing else may (upstream's plan audit refuses a plan that opens
  # either port to the world).
  ingress {
    description     = "KasmVNC, from the allocator only"
    from_port       = 6080
    to_port         = 6080
    protocol        = "tcp"
    security_groups = [var.allocator_sg_id]
  }

  ingress {
    description     = "Client agent, from the allocator only"
    from_port       = 7070
    to_port         = 7070
    protocol        = "tcp"
    security_groups = [var.allocator_sg_id]
  }

  egress {
    description      = "All outbound: allocator, container registry, package mirrors"
    from_port        = 0
    to_port          = 0
    protocol         = "-1"
    cidr_blocks      = ["0.0.0.0/0"]
    ipv6_cidr_blocks = ["::/0"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lablink_client" {
  name_prefix        = "lablink-client-"
  description        = "LabLink client VMs (${var.resource_prefix})"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
}

# Only the log group the boot log goes to, and only when one is set.
data "aws_iam_policy_document" "cloud_init_logs" {
  count = var.cloud_init_output_log_group == "" ? 0 : 1

  statement {
    actions = [
      "logs:CreateLogStream",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
    ]
    resources = [
      "arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:${var.cloud_init_output_log_group}",
      "arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:${var.cloud_init_output_log_group}:log-stream:*",
    ]
  }
}

resource "aws_iam_role_policy" "cloud_init_logs" {
  count = var.cloud_init_output_log_group == "" ? 0 : 1

  name   = "cloud-init-logs"
  role   = aws_iam_role.lablink_client.id
  policy = data.aws_iam_policy_document.cloud_init_logs[0].json
}

resource "aws_iam_instance_profile" "lablink_client" {
  name_prefix = "lablink-client-"
  role        = aws_iam_role.lablink_client.name
}

resource "tls_private_key" "lablink_client" {
  algorithm = "RSA"
  rsa_bits  = 4096
}

resource "aws_key_pair" "lablink_client" {
  key_name_prefix = "${var.resource_prefix}-"
  public_key      = tls_private_key.lablink_client.public_key_openssh
}

resource "aws_instance" "lablink_vm" {
  count = var.instance_count

  ami                    = var.client_ami_id
  instance_type          = var.machine_type
  iam_instance_profile   = aws_iam_instance_profile.lablink_client.name
  key_name               = aws_key_pair.lablink_client.key_name
  vpc_security_group_ids = [aws_security_group.lablink_client.id]
  user_data_base64       = local.user_data_base64[count.index]

  metadata_options {
    # IMDSv2 only: the instance credentials are not readable with a plain GET.
    http_endpoint = "enabled"
    http_tokens   = "required"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = 100
    encrypted             = true
    delete_on_termination = true
  }

  # Name is the VM's name; the lablink: tags are what package inventory
  # finds the deployment's instances by (DescribeInstances filtered on
  # lablink:deployment), and the launch that created each one.
  tags = {
    Name                 = "${var.resource_prefix}-vm-${count.index + 1}"
    "lablink:deployment" = var.resource_prefix
    "lablink:launch-id"  = var.launch_id
  }

  lifecycle {
    # Changing user_data on a running instance stops and starts it, in the
    # middle of a lab. A changed config applies to VMs created from now on;
    # a VM keeps booting with the user_data it was created with. A new AMI
    # still replaces the VMs, and the allocator refuses plans that replace
    # running VMs.
    #
    # The lablink: tags record how a VM was created and keep their first
    # value: every launch renders a new launch_id, which must not update
    # the running VMs (the allocator refuses any update in place of a
    # VM), and VMs created before the tags existed are not retagged.
    # OpenTofu puts the prior value of an ignored key into the
    # configuration before the provider plans, and the provider derives
    # tags_all (default_tags merged with tags) from that, so tags_all
    # stays as it is too and needs no entry of its own.
    ignore_changes = [user_data_base64, tags["lablink:deployment"], tags["lablink:launch-id"]]
  }
}
