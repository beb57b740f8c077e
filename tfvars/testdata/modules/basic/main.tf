terraform {
  required_version = ">= 1.6"
}

provider "aws" {
  region = var.region
}

locals {
  full = "${var.name}-${var.region}"
}

data "aws_ami" "this" {
  most_recent = true
}

resource "aws_instance" "this" {
  count         = var.count_of
  instance_type = "t3.micro"
}

module "child" {
  source = "./child"
}

output "full" {
  value = local.full
}

variable "zz_last" {
  type     = string
  nullable = false
}
