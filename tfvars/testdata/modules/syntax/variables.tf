variable "ok" {
  type = string
}

variable "broken" {
  type = string
  default = "unterminated
}
