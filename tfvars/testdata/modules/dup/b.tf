# region is declared again.
variable "region" {
  type    = string
  default = "us-east-1"
}
