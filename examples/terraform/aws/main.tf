# Client VMs of one LabLink deployment. The allocator applies this module
# with a generated terraform.runtime.tfvars holding every variable,
# instance_count included: N counts the VMs already running plus the new
# ones, so growing the count only adds VMs. (Upstream passes instance_count
# as -var; writing it into the file lets the audited copy alone reproduce
# the apply.)

locals {
  # Keep this call identical to the one in ../local/main.tf.
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

  # CIDR blocks allowed to reach the VMs over SSH. Empty by default: the
  # clients only make outbound connections, and SSH is for debugging.
  ssh_ingress_cidrs = []

  name = "lablink-client-${var.resource_suffix}"
}

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

resource "aws_security_group" "lablink_client" {
  name_prefix = "${local.name}-"
  description = "LabLink client VMs: outbound only, SSH when enabled"

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
  description        = "LabLink client VMs (${var.resource_suffix})"
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
  key_name_prefix = "${local.name}-"
  public_key      = tls_private_key.lablink_client.public_key_openssh
}

resource "aws_instance" "lablink_vm" {
  count = var.instance_count

  ami                    = var.client_ami_id
  instance_type          = var.machine_type
  iam_instance_profile   = aws_iam_instance_profile.lablink_client.name
  key_name               = aws_key_pair.lablink_client.key_name
  vpc_security_group_ids = [aws_security_group.lablink_client.id]
  user_data              = local.user_data

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

  tags = {
    Name = "lablink-vm-${var.resource_suffix}-${count.index + 1}"
  }

  lifecycle {
    # user_data only runs at first boot; changing it on a running instance
    # would only stop and start it. A changed config applies to VMs created
    # from now on. A new AMI still replaces the VMs, and the allocator
    # refuses plans that replace running VMs.
    ignore_changes = [user_data]
  }
}
